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

DOCKER_HUB_HOSTS = ("docker.io", "index.docker.io", "registry-1.docker.io")
DOCKER_HUB_NAMESPACE = "library"
DEFAULT_TAG = "latest"
ROOT = "ROOT"

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{32,}$")
_HOST = re.compile(r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*"
                   r"(?::[0-9]+)?$")


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


def parse_image(reference: str) -> ImageRef:
    """Split a reference the way Docker does: `[host[:port]/]path[:tag][@digest]`."""
    text = reference.strip()
    if not text or any(c.isspace() for c in text):
        raise InvalidReference(f"'{reference}' is not an image reference")
    digest = None
    if "@" in text:
        text, digest = text.split("@", 1)
        if not _DIGEST.match(digest):
            raise InvalidReference(f"'{reference}' has an invalid digest '{digest}'")
    tag = None
    last = text.rsplit("/", 1)[-1]
    if ":" in last:
        text, tag = text.rsplit(":", 1)
        if not _TAG.match(tag):
            raise InvalidReference(f"'{reference}' has an invalid tag '{tag}'")
    host = None
    first, _, rest = text.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        if not _HOST.match(first):
            raise InvalidReference(f"'{reference}' has an invalid registry host '{first}'")
        host, text = first, rest
    if not _PATH.match(text):
        raise InvalidReference(f"'{reference}' has an invalid repository path '{text}' (lower-case letters, digits, "
                               "and . _ - separators)")
    return ImageRef(host=host, path=text, tag=tag, digest=digest)


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
        if self.kind == "docker-hub" and "/" not in path:
            path = f"{DOCKER_HUB_NAMESPACE}/{path}"
        if self.kind == "ecr" and self.upstream_prefix and self.upstream_prefix != ROOT:
            if not path.startswith(self.upstream_prefix + "/"):
                return None
            return path[len(self.upstream_prefix) + 1:]  # ECR maps the upstream prefix onto the cache prefix
        return path


def routes(upstreams: Mapping[str, Mapping[str, Any]]) -> list[Route]:
    """Routes of the `upstreams` output, most specific first."""
    found = []
    for prefix, upstream in upstreams.items():
        kind = upstream["kind"]
        hosts = DOCKER_HUB_HOSTS if kind == "docker-hub" else (str(upstream["upstream_url"]).lower(),)
        found.append(Route(prefix=prefix, kind=kind, hosts=hosts, cache_uri=upstream["cache_uri"],
                           upstream_prefix=upstream.get("upstream_prefix")))
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
            key = host if not route.upstream_prefix or route.upstream_prefix == ROOT else \
                f"{host}/{route.upstream_prefix}"
            mapping[key] = route.cache_uri
    return mapping


def upstreams_of(outputs: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]]:
    """Accept the whole stack outputs or just their `upstreams` map."""
    return outputs["upstreams"] if "upstreams" in outputs else outputs


def rewrite_image(reference: str, outputs: Mapping[str, Any]) -> str:
    """The cache URI of an image reference; the tag (default `latest`) and digest are kept."""
    ref = parse_image(reference)
    upstreams = upstreams_of(outputs)
    host = (ref.host or DOCKER_HUB_HOSTS[0]).lower()
    cached = _already_cached(ref, host, upstreams)
    if cached is not None:
        return cached
    candidates = [r for r in routes(upstreams) if host in r.hosts]
    if not candidates:
        known = sorted({h for r in routes(upstreams) for h in r.hosts})
        raise NotCached(f"'{reference}' is on {host}, which no pull through cache rule of this stack caches "
                        f"(cached hosts: {', '.join(known) or 'none'})")
    for route in candidates:
        path = route.cached_path(ref.path)
        if path is not None:
            tag = ref.tag or (None if ref.digest else DEFAULT_TAG)
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
_IMAGE_LINE = re.compile(r"""^\s*(?:-\s+)?["']?image["']?\s*:\s*"""
                         r"""(?:(?P<quote>["'])(?P<quoted>[^"'\n]*)(?P=quote)|(?P<bare>[^\s"'#]+))\s*(?:#.*)?$""")


@dataclass
class ManifestChange:
    line: int
    before: str
    after: str | None
    """The rewritten reference, or None when it was left alone."""
    problem: str | None = None


def rewrite_manifest(text: str, outputs: Mapping[str, Any]) -> tuple[str, list[ManifestChange]]:
    """Rewrite every `image:` field; every other byte of the text stays as it was.

    Returns the new text and one entry per `image:` field. References that are not cached, not
    valid, or templated (`{{ ... }}`, `${...}`) are left in place and reported with a problem.
    """
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
        if "{{" in reference or "${" in reference or "$(" in reference:
            changes.append(ManifestChange(number, reference, None, "templated; rewrite its value where it is set"))
            continue
        try:
            rewritten = rewrite_image(reference, outputs)
        except (NotCached, InvalidReference) as exc:
            changes.append(ManifestChange(number, reference, None, str(exc)))
            continue
        changes.append(ManifestChange(number, reference, rewritten))
        start, end = match.span(group)
        lines[number - 1] = body[:start] + rewritten + body[end:] + line[len(body):]
    return "".join(lines), changes
