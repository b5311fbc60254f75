"""Image references -> cache URIs: table tests, property tests, manifests byte for byte."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecr_pull_through_cache.images import (
    InvalidReference,
    NotCached,
    image_hosts,
    parse_image,
    rewrite_image,
    rewrite_manifest,
)

REGISTRY = "123456789012.dkr.ecr.us-east-2.amazonaws.com"
GOLDEN = "210987654321.dkr.ecr.eu-west-1.amazonaws.com"
DIGEST = "sha256:" + "ab" * 32


def upstream(kind: str, url: str, prefix: str, upstream_prefix: str | None = None) -> dict:
    return {"kind": kind, "upstream_url": url, "cache_uri": f"{REGISTRY}/{prefix}", "upstream_prefix": upstream_prefix}


OUTPUTS = {
    "registry_url": REGISTRY,
    "upstreams": {
        "docker-hub": upstream("docker-hub", "registry-1.docker.io", "docker-hub"),
        "github": upstream("github-container-registry", "ghcr.io", "github"),
        "gitlab-ef1b": upstream("gitlab-container-registry", "registry.gitlab.com", "gitlab-ef1b"),
        "quay": upstream("quay", "quay.io", "quay"),
        "kubernetes": upstream("k8s", "registry.k8s.io", "kubernetes"),
        "ecr-public": upstream("ecr-public", "public.ecr.aws", "ecr-public"),
        "azure": upstream("azure-container-registry", "acmeprod.azurecr.io", "azure"),
        "chainguard": upstream("chainguard", "cgr.dev", "chainguard"),
        "golden": upstream("ecr", GOLDEN, "golden", "release"),
        "mirror": upstream("ecr", "333333333333.dkr.ecr.us-east-2.amazonaws.com", "mirror", "ROOT"),
    },
}

TABLE = [
    # Docker Hub: four spellings of the host, and the implicit library/ namespace
    ("nginx", "docker-hub/library/nginx:latest"),
    ("nginx:1.27", "docker-hub/library/nginx:1.27"),
    ("docker.io/nginx:1.27", "docker-hub/library/nginx:1.27"),
    ("index.docker.io/library/nginx:1.27", "docker-hub/library/nginx:1.27"),
    ("registry-1.docker.io/bitnami/redis:7.2", "docker-hub/bitnami/redis:7.2"),
    ("docker.io/library/nginx@" + DIGEST, "docker-hub/library/nginx@" + DIGEST),
    ("nginx:1.27@" + DIGEST, "docker-hub/library/nginx:1.27@" + DIGEST),
    ("DOCKER.IO/library/nginx", "docker-hub/library/nginx:latest"),
    # the other public and token upstreams
    ("ghcr.io/acme/api:2.0.1", "github/acme/api:2.0.1"),
    ("registry.gitlab.com/acme/group/sub/project/image:main", "gitlab-ef1b/acme/group/sub/project/image:main"),
    ("quay.io/prometheus/node-exporter:v1.8.0", "quay/prometheus/node-exporter:v1.8.0"),
    ("registry.k8s.io/pause:3.10", "kubernetes/pause:3.10"),
    ("public.ecr.aws/docker/library/alpine:3.20", "ecr-public/docker/library/alpine:3.20"),
    ("acmeprod.azurecr.io/team/app:1", "azure/team/app:1"),
    ("cgr.dev/chainguard/static:latest", "chainguard/chainguard/static:latest"),
    # ECR upstreams: the upstream prefix maps onto the cache prefix; ROOT keeps the whole path
    (f"{GOLDEN}/release/app:1.0", "golden/app:1.0"),
    (f"{GOLDEN}/release/team/app", "golden/team/app:latest"),
    ("333333333333.dkr.ecr.us-east-2.amazonaws.com/any/path:7", "mirror/any/path:7"),
    # already in the cache: left as it is
    (f"{REGISTRY}/docker-hub/library/nginx:1.27", "docker-hub/library/nginx:1.27"),
]


@pytest.mark.parametrize("reference, cached", TABLE)
def test_rewrites(reference, cached):
    assert rewrite_image(reference, OUTPUTS) == f"{REGISTRY}/{cached}"


@pytest.mark.parametrize(
    "reference, message",
    [
        ("example.com/app:1", "no pull through cache rule of this stack caches"),
        ("other.azurecr.io/app:1", "'other.azurecr.io'"),
        (f"{GOLDEN}/other/app:1", "outside the upstream prefixes cached from"),
        ("localhost:5000/app:dev", "localhost:5000"),
        ("444444444444.dkr.ecr.us-east-1.amazonaws.com/app", "no pull through cache rule"),
        (f"{REGISTRY}/team/app:1", "no pull through cache rule"),
    ],
)
def test_references_no_rule_caches_are_refused(reference, message):
    with pytest.raises(
        NotCached, match=message.replace("(", r"\(").replace(")", r"\)") if "'" not in message else None
    ):
        rewrite_image(reference, OUTPUTS)


@pytest.mark.parametrize(
    "reference",
    ["", "Nginx", "nginx:", "nginx@sha256:xyz", "a b", "ghcr.io/acme/API:1", "nginx:-bad", "ex ample.com/app"],
)
def test_invalid_references(reference):
    with pytest.raises(InvalidReference):
        rewrite_image(reference, OUTPUTS)


def test_outputs_or_just_the_upstreams_map():
    assert rewrite_image("nginx", OUTPUTS["upstreams"]) == rewrite_image("nginx", OUTPUTS)


def test_image_hosts_map():
    hosts = image_hosts(OUTPUTS["upstreams"])
    for host in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        assert hosts[host] == f"{REGISTRY}/docker-hub"
    assert hosts["acmeprod.azurecr.io"] == f"{REGISTRY}/azure"
    # ECR maps <host>/<upstream prefix>/x onto <cache>/x: the key carries the upstream prefix.
    assert hosts[f"{GOLDEN}/release"] == f"{REGISTRY}/golden"
    assert GOLDEN not in hosts


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

component = st.from_regex(r"[a-z0-9]{1,8}([._-][a-z0-9]{1,8})?", fullmatch=True)
# Without a host, Docker reads a first component with a dot as a host (`0.0/x`): keep those out.
paths = (
    st.lists(component, min_size=1, max_size=4)
    .map("/".join)
    .filter(lambda p: "/" not in p or "." not in p.split("/", 1)[0])
)
tags = st.none() | st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)
digests = st.none() | st.from_regex(r"sha256:[a-f0-9]{64}", fullmatch=True)
hosts = st.sampled_from(
    [
        "",
        "docker.io/",
        "ghcr.io/",
        "quay.io/",
        "registry.gitlab.com/",
        "acmeprod.azurecr.io/",
        "cgr.dev/",
        "registry.k8s.io/",
        "public.ecr.aws/",
    ]
)


@settings(max_examples=300)
@given(hosts, paths, tags, digests)
def test_round_trip_keeps_the_path_tag_and_digest(host, path, tag, digest):
    reference = host + path + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    cached = parse_image(rewrite_image(reference, OUTPUTS))
    assert cached.host == REGISTRY
    assert cached.path.endswith("/" + path)
    if host in ("", "docker.io/") and "/" not in path:
        assert cached.path.endswith("/library/" + path)
    assert cached.digest == digest
    assert cached.tag == (tag or (None if digest else "latest"))


@settings(max_examples=200)
@given(hosts, paths, tags, digests)
def test_rewriting_is_idempotent(host, path, tag, digest):
    reference = host + path + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    once = rewrite_image(reference, OUTPUTS)
    assert rewrite_image(once, OUTPUTS) == once


@given(paths, tags)
def test_ecr_upstream_paths_outside_the_prefix_are_refused(path, tag):
    reference = f"{GOLDEN}/{path}" + (f":{tag}" if tag else "")
    if path.startswith("release/"):
        assert rewrite_image(reference, OUTPUTS).startswith(f"{REGISTRY}/golden/")
    else:
        with pytest.raises(NotCached):
            rewrite_image(reference, OUTPUTS)


# --------------------------------------------------------------------------------------------
# Manifests
# --------------------------------------------------------------------------------------------

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment   # the web tier
metadata:
  name: web
  labels: {app: web, image: nginx}
spec:
  template:
    spec:
      initContainers:
        - name: init
          image: busybox:1.36   # keeps this comment
      containers:
        - name: web
          image: "nginx:1.27"
          args: ["--image", "nginx:1.27"]
        - image: 'ghcr.io/acme/api@sha256:%s'
          name: api
        - name: local
          image: localhost:5000/dev:latest
        - name: templated
          image: "{{ .Values.image }}"
        - name: two-words
          image: nginx latest
      volumes:
        - name: cache
          image:
            reference: not-a-field-we-rewrite
""" % ("ab" * 32)

COMPOSE = "services:\r\n  db:\r\n    image: postgres:16\r\n    environment:\r\n      IMAGE: keep-me\r\n"


def test_manifest_rewrites_only_image_fields_byte_for_byte():
    text, changes = rewrite_manifest(DEPLOYMENT, OUTPUTS)
    before, after = DEPLOYMENT.splitlines(keepends=True), text.splitlines(keepends=True)
    assert len(before) == len(after)
    changed = {c.line for c in changes if c.after}
    for number, (old, new) in enumerate(zip(before, after, strict=True), start=1):
        if number not in changed:
            assert old == new, number
    assert after[10] == f"          image: {REGISTRY}/docker-hub/library/busybox:1.36   # keeps this comment\n"
    assert after[13] == f'          image: "{REGISTRY}/docker-hub/library/nginx:1.27"\n'
    assert after[14] == before[14]  # an argument that looks like an image is not an image: field
    assert after[15] == f"        - image: '{REGISTRY}/github/acme/api@sha256:{'ab' * 32}'\n"
    problems = {c.before: c.problem for c in changes if c.problem}
    assert set(problems) == {"localhost:5000/dev:latest", "{{ .Values.image }}", "nginx latest"}
    assert "is not an image reference" in problems["nginx latest"]
    assert "templated" in problems["{{ .Values.image }}"]


def test_compose_file_with_crlf_line_ends():
    text, changes = rewrite_manifest(COMPOSE, OUTPUTS)
    assert text == COMPOSE.replace("postgres:16", f"{REGISTRY}/docker-hub/library/postgres:16")
    assert [c.before for c in changes] == ["postgres:16"]


@given(st.lists(st.from_regex(r"[ a-zA-Z0-9:#_\-\"'{}\[\],.]{0,40}", fullmatch=True), max_size=20))
def test_text_without_image_fields_is_untouched(lines):
    text = "\n".join(line for line in lines if "image" not in line.lower())
    assert rewrite_manifest(text, OUTPUTS)[0] == text


def test_a_block_scalar_that_mentions_image_is_text_not_a_field():
    manifest = (
        "apiVersion: v1\nkind: ConfigMap\ndata:\n  compose.yaml: |\n    services:\n      web:\n"
        "        image: nginx:1.27\n---\nkind: Pod\nspec:\n  containers:\n    - image: nginx:1.27\n"
    )
    text, changes = rewrite_manifest(manifest, OUTPUTS)
    assert [c.line for c in changes] == [12]
    assert "        image: nginx:1.27\n" in text  # inside the block scalar: untouched
    assert f"    - image: {REGISTRY}/docker-hub/library/nginx:1.27\n" in text


def test_a_json_manifest_is_rewritten_in_place():
    manifest = '{"spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}\n'
    text, changes = rewrite_manifest(manifest, OUTPUTS)
    assert text == manifest.replace("nginx:1.27", f"{REGISTRY}/docker-hub/library/nginx:1.27")


@pytest.mark.parametrize(
    "reference, message",
    [
        ("nginx:lat\u00e9st", "ASCII"),
        ("nginx@sha256:" + "ab" * 31, "not 64 lower-case hex"),
        ("nginx@sha256:" + "AB" * 32, "not 64 lower-case hex"),
        ("nginx@md5:xyz", "invalid digest"),
        ("a" * 256, "over Docker's 255"),
        ("nginx:" + "t" * 129, "invalid tag"),
        ("ghcr.io/acme/" + "a" * 230 + ":1", "over Docker's 255"),
    ],
)
def test_references_docker_or_ecr_would_refuse_are_refused(reference, message):
    with pytest.raises(InvalidReference, match=message):
        rewrite_image(reference, OUTPUTS)
