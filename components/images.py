"""Image references -> pull-through-cache URIs, as pure functions of the stack outputs.

`rewrite_image("nginx:1.27", outputs)` gives `<registry>/docker-hub/library/nginx:1.27`. The
outputs are this project's stack outputs (`pulumi stack output --json`, or a StackReference's
`upstreams`); nothing here reimplements the catalog beyond which hosts Docker Hub answers to.
A reference no rule caches raises `NotCached`: it is never passed through silently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DOCKER_HUB = "docker.io"
DOCKER_HUB_NAMES = ("docker.io", "index.docker.io")
"""The hosts Docker normalises to Docker Hub, adding `library/` to one-part names (distribution/reference
normalize.go, splitDockerDomain: `defaultDomain`, `legacyDefaultDomain`, `officialRepoPrefix`)."""
DOCKER_HUB_HOSTS = (*DOCKER_HUB_NAMES, "registry-1.docker.io")
"""Hosts the Docker Hub upstream serves. `registry-1.docker.io` is Docker Hub's API host (the upstream URL of
ECR's rule) and is kept on purpose, but Docker reads it as any other registry: its paths are taken as written,
with no `library/` added, so `registry-1.docker.io/nginx` maps to `<cache>/nginx` as Docker would ask for it."""
DOCKER_HUB_NAMESPACE = "library"
DEFAULT_TAG = "latest"
ROOT = "ROOT"

# The Docker reference grammar, ASCII only, matched in full: distribution/reference regexp.go (alphanumeric,
# separator, domainNameComponent, ipv6address, optionalPort, tag, digestPat) and normalize.go (splitDockerDomain).
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*", re.ASCII)
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", re.ASCII)
_DIGEST = re.compile(
    r"(?P<algorithm>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*):(?P<hex>[a-fA-F0-9]{32,})", re.ASCII
)
DIGEST_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
"""go-digest v1.0.0's registered algorithms (algorithm.go; Docker and containerd vendor it): the encoded part is
lower-case hex of exactly this length, and any other algorithm is ErrDigestUnsupported (digest.go, Validate)."""
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = re.compile(
    rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?",
    re.ASCII,
)
_IMAGE_ID = re.compile(r"[a-f0-9]{64}", re.ASCII)
"""normalize.go, ParseNormalizedNamed: a 64-character hex string is an image ID, never a name."""
NAME_MAX_LENGTH = 255
"""Docker's RepositoryNameTotalLengthMax (reference.go), checked on the normalised path, and ours on the cache's
host and path together."""
ECR_REPOSITORY_NAME = re.compile(r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*", re.ASCII)
"""`RepositoryName` in botocore's ECR model (2 to 256 characters)."""


class InvalidReference(ValueError):
    """Not an image reference at all."""


class NotCached(ValueError):
    """A valid reference that no pull through cache rule of the stack serves."""


@dataclass(frozen=True)
class ImageRef:
    host: str | None
    """The registry host as written (None when the reference names none: Docker Hub)."""
    path: str
    tag: str | None = None
    digest: str | None = None

    def __str__(self) -> str:
        text = f"{self.host}/{self.path}" if self.host else self.path
        return text + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")

    def docker_name(self) -> tuple[str, str]:
        """(domain, path) as Docker normalises them: no host or `index.docker.io` is `docker.io`, and a one-part
        path on `docker.io` gains `library/` (`nginx` is `docker.io/library/nginx`)."""
        domain = DOCKER_HUB if self.host is None or self.host in DOCKER_HUB_NAMES else self.host
        path = self.path
        if domain == DOCKER_HUB and "/" not in path:
            path = f"{DOCKER_HUB_NAMESPACE}/{path}"
        return domain, path


def _split_domain(text: str) -> tuple[str | None, str]:
    """normalize.go, splitDockerDomain: the first component is a host when it is `localhost`, holds a `.` or a
    `:`, or has an upper-case letter (repository paths are lower case, so `Registry/app` names a host)."""
    first, slash, rest = text.partition("/")
    if slash and (first == "localhost" or "." in first or ":" in first or first.lower() != first):
        return first, rest
    return None, text


def parse_image(reference: str) -> ImageRef:
    """Split a reference the way Docker does (`[host[:port]/]path[:tag][@digest]`), refusing what it refuses."""
    if (
        not isinstance(reference, str)
        or not reference
        or not reference.isascii()
        or any(c.isspace() or not c.isprintable() for c in reference)
    ):
        shown = reference[:80] if isinstance(reference, str) and reference.isprintable() else repr(reference)[:80]
        raise InvalidReference(f"'{shown}' is not an image reference (ASCII, no spaces)")
    shown = reference if len(reference) <= 120 else reference[:117] + "..."
    if _IMAGE_ID.fullmatch(reference):
        raise InvalidReference(f"'{shown}' is a 64-character hex image ID, not a repository name (Docker refuses it)")
    host, text = _split_domain(reference)
    digest = None
    if "@" in text:
        text, digest = text.split("@", 1)
        match = _DIGEST.fullmatch(digest)
        if not match:
            raise InvalidReference(f"'{shown}' has an invalid digest (algorithm:hex, e.g. sha256: and 64 hex digits)")
        length = DIGEST_LENGTHS.get(match["algorithm"])
        if length is None:
            raise InvalidReference(
                f"'{shown}' has a digest in '{match['algorithm'][:20]}', which Docker does not support "
                f"(use {', '.join(DIGEST_LENGTHS)})"
            )
        if not re.fullmatch(f"[a-f0-9]{{{length}}}", match["hex"]):
            raise InvalidReference(
                f"'{shown}' has a {match['algorithm']} digest that is not {length} lower-case hex digits"
            )
    tag = None
    last = text.rsplit("/", 1)[-1]
    if ":" in last:
        text, tag = text.rsplit(":", 1)
        if not _TAG.fullmatch(tag):
            raise InvalidReference(f"'{shown}' has an invalid tag (up to 128 letters, digits, _ . -)")
    if host is not None and not _HOST.fullmatch(host):
        raise InvalidReference(f"'{shown}' has an invalid registry host '{host[:80]}'")
    if not _PATH.fullmatch(text):
        raise InvalidReference(
            f"'{shown}' has an invalid repository path (lower-case letters, digits, and . _ - separators)"
        )
    ref = ImageRef(host=host, path=text, tag=tag, digest=digest)
    if len(ref.docker_name()[1]) > NAME_MAX_LENGTH:
        raise InvalidReference(f"'{shown}' has a repository path over Docker's {NAME_MAX_LENGTH} characters")
    return ref


def _check_rewritten(reference: str, registry: str, repository: str) -> None:
    """The cache reference must be one Docker and ECR accept too."""
    if not 2 <= len(repository) <= 256 or not ECR_REPOSITORY_NAME.fullmatch(repository):
        raise InvalidReference(
            f"'{reference}' would be the ECR repository '{repository[:80]}', which ECR refuses "
            "(2-256 characters of its RepositoryName pattern)"
        )
    if len(registry) + 1 + len(repository) > NAME_MAX_LENGTH:
        raise InvalidReference(
            f"'{reference[:80]}' would be {len(registry) + 1 + len(repository)} characters in the "
            f"cache, over Docker's {NAME_MAX_LENGTH}: shorten the prefix or the path"
        )


@dataclass(frozen=True)
class Route:
    """One upstream as seen from image references: which hosts, which paths, which cache URI."""

    prefix: str
    kind: str
    hosts: tuple[str, ...]
    cache_uri: str
    upstream_prefix: str | None = None

    def cached_path(self, path: str) -> str | None:
        """The path under the cache prefix, or None when this upstream does not serve `path`."""
        if self.kind == "ecr" and self.upstream_prefix and self.upstream_prefix != ROOT:
            if not path.startswith(self.upstream_prefix + "/"):
                return None
            return path[len(self.upstream_prefix) + 1 :]  # ECR maps the upstream prefix onto the cache prefix
        return path


def routes(upstreams: Mapping[str, Mapping[str, Any]]) -> list[Route]:
    """Routes of the `upstreams` output, most specific first."""
    found = []
    for prefix, upstream in upstreams.items():
        kind = upstream["kind"]
        hosts = DOCKER_HUB_HOSTS if kind == "docker-hub" else (str(upstream["upstream_url"]).lower(),)
        found.append(
            Route(
                prefix=prefix,
                kind=kind,
                hosts=hosts,
                cache_uri=upstream["cache_uri"],
                upstream_prefix=upstream.get("upstream_prefix"),
            )
        )
    return sorted(found, key=lambda r: (-len(r.upstream_prefix or ""), r.prefix))


def image_hosts(upstreams: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Image-reference prefix -> cache URI, for consumers in any language that rewrite by string prefix.

    Keys are hosts (Docker Hub under each of its hosts), except for an ECR upstream that mirrors an upstream
    prefix: ECR maps `<host>/<upstream prefix>/x` to `<cache>/x`, so its key is `<host>/<upstream prefix>`.
    Docker Hub's single-name images still need `library/` (`docker.io/nginx` is `docker.io/library/nginx`);
    `rewrite_image` does that, a plain prefix swap does not.
    """
    mapping: dict[str, str] = {}
    for route in reversed(routes(upstreams)):
        for host in route.hosts:
            key = (
                host
                if not route.upstream_prefix or route.upstream_prefix == ROOT
                else f"{host}/{route.upstream_prefix}"
            )
            mapping[key] = route.cache_uri
    return mapping


def upstreams_of(outputs: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]]:
    """Accept the whole stack outputs or just their `upstreams` map."""
    return outputs["upstreams"] if "upstreams" in outputs else outputs


def rewrite_image(reference: str, outputs: Mapping[str, Any]) -> str:
    """The cache URI of an image reference; the tag (default `latest`) and digest are kept."""
    ref = parse_image(reference)
    upstreams = upstreams_of(outputs)
    domain, docker_path = ref.docker_name()
    host = domain.lower()  # DNS names are case-insensitive; Docker keeps `Docker.io` apart from Hub's names
    cached = _already_cached(ref, host, upstreams)
    if cached is not None:
        return cached
    candidates = [r for r in routes(upstreams) if host in r.hosts]
    if not candidates:
        known = sorted({h for r in routes(upstreams) for h in r.hosts})
        raise NotCached(
            f"'{reference}' is on {host}, which no pull through cache rule of this stack caches "
            f"(cached hosts: {', '.join(known) or 'none'})"
        )
    for route in candidates:
        path = route.cached_path(docker_path)
        if path is not None:
            tag = ref.tag or (None if ref.digest else DEFAULT_TAG)
            registry, _, prefix = route.cache_uri.partition("/")
            _check_rewritten(reference, registry, f"{prefix}/{path}")
            return str(ImageRef(host=None, path=f"{route.cache_uri}/{path}", tag=tag, digest=ref.digest))
    served = ", ".join(f"{r.upstream_prefix}/" for r in candidates if r.upstream_prefix)
    raise NotCached(f"'{reference}' is outside the upstream prefixes cached from {host} ({served})")


def _already_cached(ref: ImageRef, host: str, upstreams: Mapping[str, Mapping[str, Any]]) -> str | None:
    """A reference that already points into the cache is returned as it is (rewriting is idempotent)."""
    for upstream in upstreams.values():
        registry, _, prefix = str(upstream["cache_uri"]).partition("/")
        if host == registry.lower() and ref.path.startswith(prefix + "/"):
            tag = ref.tag or (None if ref.digest else DEFAULT_TAG)
            return str(ImageRef(host=ref.host, path=ref.path, tag=tag, digest=ref.digest))
    return None


# --------------------------------------------------------------------------------------------
# Manifests: Kubernetes, Compose, anything with `image:` fields
# --------------------------------------------------------------------------------------------

_IMAGE_KEY = re.compile(r"""^\s*(?:-\s+)?["']?image["']?\s*:\s*(?P<value>[^#\s].*?)?\s*$""")
_IMAGE_LINE = re.compile(
    r"""^\s*(?:-\s+)?["']?image["']?\s*:\s*"""
    r"""(?:(?P<quote>["'])(?P<quoted>[^"'\n]*)(?P=quote)|(?P<bare>[^\s"'#]+))\s*(?:#.*)?$"""
)


@dataclass
class ManifestChange:
    line: int
    before: str
    after: str | None
    """The rewritten reference, or None when it was left alone."""
    problem: str | None = None


def _rewrite_one(reference: str, outputs: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(rewritten, None), or (None, problem) for a value left alone."""
    if "{{" in reference or "${" in reference or "$(" in reference:
        return None, "templated; rewrite its value where it is set"
    try:
        return rewrite_image(reference, outputs), None
    except (NotCached, InvalidReference) as exc:
        return None, str(exc)


def rewrite_manifest(text: str, outputs: Mapping[str, Any]) -> tuple[str, list[ManifestChange]]:
    """Rewrite every `image:` field; every other byte of the text stays as it was.

    The text is read as YAML (JSON included): only values of `image` keys are fields, so a block scalar that
    mentions `image: x` (a ConfigMap's embedded file) stays text. A file that is not YAML at all (a Helm
    template) is read line by line. Returns the new text and one entry per `image:` field; references that are
    not cached, not valid, or templated (`{{ ... }}`, `${...}`) are left in place and reported with a problem.
    """
    try:
        return _rewrite_yaml(text, outputs)
    except _NotYaml:
        return _rewrite_lines(text, outputs)


class _NotYaml(Exception):
    pass


def _image_nodes(node: Any, found: list[Any], seen: set[int], depth: int = 0) -> None:
    """The `image:` value nodes under `node`, each once: an alias (`*base`, a merge key's `<<: *base`) is the very
    node its anchor made, so its text is one place in the file and must be rewritten once, and a subtree shared by
    many aliases is walked once, not once per alias."""
    import yaml

    if depth > 200:
        raise _NotYaml()
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == "image" and isinstance(value, yaml.ScalarNode):
                if id(value) not in seen:
                    seen.add(id(value))
                    found.append(value)
            else:
                _image_nodes(value, found, seen, depth + 1)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _image_nodes(item, found, seen, depth + 1)


def _rewrite_yaml(text: str, outputs: Mapping[str, Any]) -> tuple[str, list[ManifestChange]]:
    import yaml

    try:
        documents = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except (yaml.YAMLError, RecursionError):
        raise _NotYaml() from None
    nodes: list[Any] = []
    seen: set[int] = set()
    for document in documents:
        _image_nodes(document, nodes, seen)
    changes: list[ManifestChange] = []
    edits: list[tuple[int, int, str]] = []
    for node in nodes:
        line = node.start_mark.line + 1
        reference = node.value
        if node.style in ("|", ">") or "\n" in reference:
            changes.append(ManifestChange(line, reference.strip()[:80], None, "not a single image reference"))
            continue
        if not reference:
            continue
        rewritten, problem = _rewrite_one(reference, outputs)
        changes.append(ManifestChange(line, reference, rewritten, problem))
        if rewritten is not None and rewritten != reference:
            start, end = node.start_mark.index, node.end_mark.index
            if node.style in ('"', "'"):
                start, end = start + 1, end - 1
            if text[start:end] == reference:  # escapes in the source: leave it rather than guess
                edits.append((start, end, rewritten))
            else:
                changes[-1] = ManifestChange(line, reference, None, "written with escapes; rewrite it by hand")
    # One pass over the text (slicing it once per edit was quadratic: 40,000 image lines took minutes).
    pieces: list[str] = []
    done = 0
    for start, end, rewritten in sorted(edits):
        pieces += [text[done:start], rewritten]
        done = end
    pieces.append(text[done:])
    return "".join(pieces), changes


def _rewrite_lines(text: str, outputs: Mapping[str, Any]) -> tuple[str, list[ManifestChange]]:
    changes: list[ManifestChange] = []
    lines = text.splitlines(keepends=True)
    for number, line in enumerate(lines, start=1):
        body = line.rstrip("\r\n")
        key = _IMAGE_KEY.match(body)
        if not key or not key.group("value"):
            continue  # not an image: field, or a mapping (Helm values' image.repository) on the next lines
        match = _IMAGE_LINE.match(body)
        if not match:
            changes.append(ManifestChange(number, key.group("value"), None, "not a single image reference"))
            continue
        group = "quoted" if match.group("quote") else "bare"
        reference = match.group(group)
        rewritten, problem = _rewrite_one(reference, outputs)
        changes.append(ManifestChange(number, reference, rewritten, problem))
        if rewritten is None:
            continue
        start, end = match.span(group)
        lines[number - 1] = body[:start] + rewritten + body[end:] + line[len(body) :]
    return "".join(lines), changes
