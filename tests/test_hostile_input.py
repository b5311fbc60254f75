"""Fuzz every entry point: whatever comes in, a clear refusal or a result, never an unexpected exception.

Entry points: stack files (bytes), the program on mutated stack configs, image references, stack outputs files,
manifests. A refusal is the entry point's own error type, with a message; anything else is a bug.
"""

from __future__ import annotations

import copy
import json
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecr_pull_through_cache.config import CONFIG_KEYS, ConfigError
from ecr_pull_through_cache.config import UPSTREAM_KEYS as CONFIG_UPSTREAM_KEYS
from ecr_pull_through_cache.images import InvalidReference, NotCached, parse_image, rewrite_image, rewrite_manifest
from ptc.mock_engine import run_program
from ptc.outputs import OutputsError, validate_outputs
from ptc.stack_config import StackConfigError, config_faults, load_stack_config
from tests.conftest import PROJECT, ROOT, stack_config, stack_file
from tests.test_images import OUTPUTS

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.sampled_from(
        ["²", "١٢", "true", "null", "docker-hub", "ROOT", "*", "2026-12-02", "0777", "us-east-2", "KMS_DSSE", "\n"]
    ),
)
value = st.recursive(
    scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=10,
)


# --------------------------------------------------------------------------------------------
# Stack files
# --------------------------------------------------------------------------------------------


@FAST
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_stack_file_is_read_or_refused(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("stack") / "Pulumi.fuzz.yaml"
    path.write_bytes(b"config:\n  " + data)
    try:
        load_stack_config(ROOT, config_file=path)
    except StackConfigError as exc:
        assert str(exc)


KEYS = [*CONFIG_KEYS, "aws:region"]
UPSTREAM_KEYS = list(CONFIG_UPSTREAM_KEYS)


@st.composite
def mutated_configs(draw) -> dict:
    config = copy.deepcopy(stack_file("dev"))
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            key = draw(st.sampled_from(KEYS))
            full = key if ":" in key else f"{PROJECT}:{key}"
            config[full] = draw(value)
        else:
            upstreams = config[f"{PROJECT}:upstreams"]
            if isinstance(upstreams, list) and upstreams and isinstance(upstreams[0], dict):
                entry = upstreams[draw(st.integers(0, len(upstreams) - 1))]
                if isinstance(entry, dict):
                    entry[draw(st.sampled_from(UPSTREAM_KEYS))] = draw(value)
    return config


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_configs())
def test_the_program_refuses_any_mutated_config_with_a_config_error(config):
    if config_faults(PROJECT, config, None):
        return  # refused while reading the stack file, before the program
    try:
        stack = stack_config(json.loads(json.dumps(config, default=str)), "fuzz")
    except (TypeError, ValueError):
        return
    result = run_program(ROOT, stack, preview=True)
    if result.error is not None:
        assert isinstance(result.error, ConfigError), repr(result.error)
        assert str(result.error).startswith("The stack config has")


# --------------------------------------------------------------------------------------------
# Image references and manifests
# --------------------------------------------------------------------------------------------

reference = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=string.ascii_lowercase + string.digits + "./:@-_", max_size=80),
    st.builds(
        lambda h, p, t: f"{h}/{p}:{t}",
        st.sampled_from(["docker.io", "ghcr.io", "quay.io", "localhost:5000", "registry.gitlab.com", "x..y"]),
        st.from_regex(r"[a-z0-9._/-]{1,60}", fullmatch=True),
        st.text(max_size=10),
    ),
)


@FAST
@given(reference)
def test_any_reference_is_rewritten_or_refused(text):
    try:
        rewritten = rewrite_image(text, OUTPUTS)
    except (InvalidReference, NotCached) as exc:
        assert str(exc)
        return
    parsed = parse_image(rewritten)  # what it gives is itself a valid reference, within Docker's limits
    assert len(f"{parsed.host}/{parsed.path}" if parsed.host else parsed.path) <= 255
    assert rewrite_image(rewritten, OUTPUTS) == rewritten  # and idempotent


@FAST
@given(
    st.text(max_size=400)
    | st.lists(
        st.sampled_from(
            [
                "image: nginx",
                "- image: 'ghcr.io/a/b:1'",
                "image: |",
                "  image: x",
                "{",
                '"image": "quay.io/a/b"',
                "---",
                "image: [1, 2]",
                "image: *a",
                "a: &a b",
            ]
        ),
        max_size=12,
    ).map("\n".join)
)
def test_any_manifest_is_rewritten_or_reported(text):
    rewritten, changes = rewrite_manifest(text, OUTPUTS)
    assert isinstance(rewritten, str)
    for change in changes:
        assert change.after is not None or change.problem


# --------------------------------------------------------------------------------------------
# Stack outputs
# --------------------------------------------------------------------------------------------

good_upstream = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["quay", "docker-hub", "ecr", 5, None]),
        "upstream_url": st.one_of(st.just("quay.io"), value),
        "cache_uri": st.one_of(st.just("123456789012.dkr.ecr.us-east-2.amazonaws.com/quay"), value),
        "template": st.one_of(
            st.none(),
            st.dictionaries(
                st.sampled_from(["image_tag_mutability", "applied_for", "resource_tags", "lifecycle_policy"]),
                value,
                max_size=3,
            ),
        ),
    }
)


@FAST
@given(
    st.one_of(
        value,
        st.fixed_dictionaries(
            {
                "registry_url": st.one_of(st.just("123456789012.dkr.ecr.us-east-2.amazonaws.com"), value),
                "upstreams": st.one_of(
                    value,
                    st.dictionaries(
                        st.sampled_from(["quay", "docker-hub", "x"]), st.one_of(good_upstream, value), max_size=3
                    ),
                ),
            }
        ),
    )
)
def test_any_outputs_document_is_validated_or_refused(document):
    try:
        outputs = validate_outputs(document)
    except OutputsError as exc:
        assert str(exc)
        return
    for prefix, upstream in outputs["upstreams"].items():
        assert isinstance(upstream["cache_uri"], str) and upstream["cache_uri"].endswith(f"/{prefix}")
        assert isinstance(upstream["kind"], str)


@pytest.mark.parametrize("text", ["", "nul\x00l", "[" * 100000, '{"upstreams": ' * 5000])
def test_pathological_outputs_files_are_refused(tmp_path, text):
    from ptc.outputs import load_outputs

    path = tmp_path / "outputs.json"
    path.write_text(text)
    with pytest.raises(OutputsError):
        load_outputs(str(path))


@FAST
@given(
    token=st.text(min_size=4, max_size=30).filter(
        lambda t: t.strip() == t and "[secret]" not in t and t not in "[secret]"
    )
)
def test_no_way_a_message_quotes_a_secret_survives_redaction(token: str) -> None:
    """Raw, JSON-escaped, JSON inside JSON (a credentials map in PULUMI_CONFIG, which a pack's traceback may
    print) or Python repr: a secret config value is redacted in every form a message can carry it."""
    from ptc.stack_config import redact_known

    config = stack_config({"aws:region": "us-east-2", "credentials": {"docker-hub": {"secure": token}}})
    message = " | ".join(
        [
            token,
            json.dumps(token),
            json.dumps(json.dumps({"docker-hub": token})),
            repr(token),
            json.dumps(config.values),
        ]
    )
    forms = {token, json.dumps(token)[1:-1], json.dumps(json.dumps(token)[1:-1])[1:-1], repr(token)[1:-1]}
    for shown in (config.redact(message), redact_known(message)):
        assert not [form for form in forms if form in shown], shown


@FAST
@given(
    token=st.text(min_size=4, max_size=30).filter(
        lambda t: t.strip() == t and "[secret]" not in t and t not in "[secret]"
    )
)
def test_a_secret_read_at_run_time_is_redacted_from_debug_tracebacks(token: str) -> None:
    """A token `ptc verify` read from Secrets Manager, known to no stack config, is redacted by `redact_known`
    (what the PTC_DEBUG traceback goes through) in every form a message can quote it."""
    from ptc import stack_config

    stack_config.remember_secret(token)
    try:
        message = " | ".join([token, json.dumps(token), json.dumps(json.dumps({"accessToken": token})), repr(token)])
        forms = {token, json.dumps(token)[1:-1], json.dumps(json.dumps(token)[1:-1])[1:-1], repr(token)[1:-1]}
        shown = stack_config.redact_known(message)
        assert not [form for form in forms if form in shown], shown
    finally:  # a remembered word would be redacted from every later message of this test process
        stack_config._READ.discard(token)


# What a report quotes: brackets as rich markup would read them (`[secret]`, `[/x]`, `[bold]`), emoji codes, escapes.
QUOTED = st.text(
    alphabet=st.sampled_from(list("[]/\\:=#@ abxsecrt")) | st.characters(blacklist_categories=("Cc", "Cs")),
    min_size=1,
    max_size=40,
).filter(lambda t: t.strip() == t)


@FAST
@given(error=QUOTED, note=QUOTED)
def test_the_human_report_shows_what_it_quotes_as_written(error: str, note: str) -> None:
    """A program's error or a note, with the `[secret]` that replaced a token, reaches the terminal as written:
    never read as rich markup (where `[secret]` vanished and `[/x]` raised MarkupError) or as emoji codes."""
    import io

    from rich.console import Console

    from ptc.preview import PreviewReport, print_report

    out = io.StringIO()
    console = Console(file=out, width=500, color_system=None, force_terminal=False)
    print_report(
        PreviewReport(project="p", stack="dev", notes=[note], error=f"The program failed: {error} [secret]"), console
    )
    shown = out.getvalue()
    assert f"note: {note}" in shown
    assert f"error: The program failed: {error} [secret]" in shown
