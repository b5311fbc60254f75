"""Files as Pulumi and Docker read them, bounded before they are read (issue 31, items 1, 5 and 6).

Stack files are read as yaml.v3 reads them (merge keys, explicit tags checked, UTF-16 with a byte order mark);
every file `ptc` is handed is a regular file of bounded size before a byte is read; manifests are rewritten once
per node, in one pass, atomically, and never through a symlink out of the tree.
"""

from __future__ import annotations

import codecs
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ecr_pull_through_cache.files import FileRefused, decode_text, read_limited
from ecr_pull_through_cache.images import rewrite_image, rewrite_manifest
from ecr_pull_through_cache.yaml12 import YamlError, load_file, loads
from ptc.mock_engine import program_entry
from tests.conftest import ROOT, run_ptc
from tests.test_images import OUTPUTS

# ---------------------------------------------------------------------------------------------- YAML as yaml.v3


@pytest.mark.parametrize(
    "text, expected",
    [
        ("base: &b {a: 1, c: 0}\nx:\n  <<: *b\n  c: 2\n", {"base": {"a": 1, "c": 0}, "x": {"a": 1, "c": 2}}),
        (
            "a: &a {p: 1}\nb: &b {p: 2, q: 2}\nx:\n  <<: [*a, *b]\n",
            {"a": {"p": 1}, "b": {"p": 2, "q": 2}, "x": {"p": 1, "q": 2}},
        ),
        ("'<<': 1\n", {"<<": 1}),  # quoted: a plain key, as in yaml.v3
        # yaml.v3's own rules (resolve.go): 0777 is octal, a date a timestamp, which Pulumi's config prints as Go does
        ("a: 2026-12-02\nb: on\nc: 0777\n", {"a": "2026-12-02 00:00:00 +0000 UTC", "b": "on", "c": 511}),
        ("a: !!int '0x1f'\nb: !!float 1\nc: !!str 5\n", {"a": 31, "b": 1.0, "c": "5"}),
    ],
)
def test_yaml_is_read_as_yaml_v3_reads_it(text, expected):
    assert loads(text) == expected


_KEYS = st.sampled_from(["a", "b", "c", "d"])
_MAPPINGS = st.dictionaries(_KEYS, st.integers(0, 9) | st.lists(st.integers(0, 9), max_size=2), max_size=4)


@settings(max_examples=200, deadline=None)
@given(bases=st.lists(_MAPPINGS, min_size=1, max_size=3), own=_MAPPINGS, nested=st.booleans(), first=st.booleans())
def test_merge_keys_apply_at_every_level_and_wherever_they_stand(bases, own, nested, first):
    """yaml.v3's merge: the mapping's own keys win, then the earlier merged mapping; wherever `<<` stands in the
    mapping and at any depth (a merge at the document's top level once merged nothing: its anchor's mapping was
    still being filled)."""
    anchors = "".join(f"m{i}: &m{i} {json.dumps(base)}\n" for i, base in enumerate(bases))
    merge = "<<: [" + ", ".join(f"*m{i}" for i in range(len(bases))) + "]"
    lines = [f"{key}: {json.dumps(value)}" for key, value in own.items()]
    lines = [merge, *lines] if first else [*lines, merge]
    indent = "  " if nested else ""
    text = anchors + ("x:\n" if nested else "") + "".join(f"{indent}{line}\n" for line in lines)
    expected: dict = {}
    for base in reversed(bases):
        expected.update(base)
    expected.update(own)
    document = loads(text)
    merged = document["x"] if nested else {k: v for k, v in document.items() if not k.startswith("m")}
    assert merged == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("a: !!int abc\n", "line 1: cannot read 'abc' as !!int"),
        ("a: !!float x\n", "line 1: cannot read 'x' as !!float"),
        ("a: !!bool maybe\n", "line 1: cannot read 'maybe' as !!bool"),
        ("a: !!null x\n", "line 1: cannot read 'x' as !!null"),
        ("a: " + "9" * 5000 + "\n", "line 1: a number of 5000 digits is no config value"),
        ("x:\n  <<: 5\n", "line 2: << merges a mapping or a list of mappings"),
        ("a: 1\na: 2\n", "the key 'a' appears twice"),
    ],
)
def test_values_yaml_v3_refuses_are_config_faults(text, message):
    with pytest.raises(YamlError, match=message.replace("(", r"\(").replace("!", "!").replace("*", r"\*")):
        loads(text)


TAGS = st.sampled_from(["!!int", "!!float", "!!bool", "!!null", "!!str", ""])


@settings(max_examples=300, deadline=None)
@given(TAGS, st.text(alphabet="0123456789abcxoXO.+-_eE infINFnaNtrueTRUEfalsenull~", max_size=12))
def test_any_tagged_scalar_is_a_value_or_a_yaml_error(tag, text):
    """The class behind `!!int abc` (a ValueError out of the constructor, exit 3): every scalar with every core tag."""
    try:
        loads(f"a: {tag} {json.dumps(text)}\n")
    except YamlError:
        pass


def test_utf16_with_a_byte_order_mark_is_read_and_a_utf8_bom_dropped(tmp_path):
    for encoding, bom in (
        ("utf-16-le", codecs.BOM_UTF16_LE),
        ("utf-16-be", codecs.BOM_UTF16_BE),
        ("utf-8", codecs.BOM_UTF8),
    ):
        path = tmp_path / f"Pulumi.{encoding}.yaml"
        path.write_bytes(bom + "config:\n  aws:region: us-east-2\n".encode(encoding))
        assert load_file(path) == {"config": {"aws:region": "us-east-2"}}


def test_a_bare_key_and_its_namespaced_form_are_one_key_set_twice(tmp_path):
    path = tmp_path / "Pulumi.dup.yaml"
    path.write_text(
        "config:\n  environment: dev\n  ecr-pull-through-cache:environment: qa\n"
        "  ecr-pull-through-cache:upstreams: [{kind: quay}]\n  aws:region: us-east-2\n"
    )
    run = run_ptc("preview", "--config", str(path))
    assert run.returncode == 2
    assert "ecr-pull-through-cache:environment: is set twice, as 'environment' and as" in run.stdout


def test_main_in_pulumi_yaml_names_the_program(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "__main__.py").write_text("")
    (tmp_path / "Pulumi.yaml").write_text("name: p\nruntime: python\nmain: src/\n")
    assert program_entry(tmp_path) == ((tmp_path / "src").resolve(), (tmp_path / "src" / "__main__.py").resolve())
    (tmp_path / "Pulumi.yaml").write_text("name: p\nruntime: python\nmain: src/__main__.py\n")
    assert program_entry(tmp_path)[1] == (tmp_path / "src" / "__main__.py").resolve()
    (tmp_path / "Pulumi.yaml").write_text("name: p\nruntime: python\n")
    assert program_entry(tmp_path) == (tmp_path, tmp_path / "__main__.py")


def test_a_project_whose_main_is_a_folder_previews(tmp_path):
    project = tmp_path / "project"
    (project / "infra").mkdir(parents=True)
    (project / "Pulumi.yaml").write_text("name: scratch\nruntime: python\nmain: infra\n")
    (project / "Pulumi.dev.yaml").write_text("config:\n  aws:region: us-east-2\n")
    (project / "infra" / "__main__.py").write_text("import pulumi\npulumi.export('where', 'infra')\n")
    run = run_ptc("preview", "--json", "-C", str(project))
    assert run.returncode == 0, run.stdout + run.stderr
    assert json.loads(run.stdout)["outputs"]["where"] == "infra"


# ------------------------------------------------------------------------------------------ bounded before read


def special_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    big = tmp_path / "big"
    with open(big, "wb") as handle:
        handle.truncate(64 * 1024 * 1024)  # sparse: 64 MiB without writing them
    return {
        "fifo": (fifo, "is a FIFO"),
        "device": (Path("/dev/zero"), "is a device"),
        "directory": (tmp_path, "is a directory"),
        "missing": (tmp_path / "missing", "No such file"),
        "huge": (big, "over the"),
    }


def test_read_limited_refuses_all_but_a_bounded_regular_file(tmp_path):
    for path, message in special_files(tmp_path).values():
        with pytest.raises(FileRefused, match=message):
            read_limited(path, 1024 * 1024, "the file")
    ok = tmp_path / "ok"
    ok.write_bytes(b"x" * 10)
    assert read_limited(ok, 10, "the file") == b"x" * 10
    with pytest.raises(FileRefused, match="over the 9 bytes"):
        read_limited(ok, 9, "the file")
    with pytest.raises(FileRefused, match="not UTF-8"):
        decode_text(b"\xff\xfe\x00", "f", "the file")


@pytest.mark.parametrize("kind", ["fifo", "device", "directory", "missing", "huge"])
@pytest.mark.parametrize("entry", ["--config", "--policy-config", "--outputs", "--manifest", "--stack-outputs"])
def test_every_file_ptc_reads_is_checked_before_it_is_read(tmp_path, entry, kind):
    """Each refusal is exit 2 naming the file; none blocks (a FIFO with no writer) or reads /dev/zero to the end."""
    path, message = special_files(tmp_path)[kind]
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(OUTPUTS))
    args = {
        "--config": ["preview", "--config", str(path)],
        "--policy-config": ["preview", "--stack", "dev", "--policy-config", str(path)],
        "--outputs": ["image", "nginx", "--outputs", str(path)],
        "--manifest": ["image", "--outputs", str(outputs), "--manifest", str(path)],
        "--stack-outputs": ["preview", "--stack", "dev", "--stack-outputs", f"a/b/c={path}"],
    }[entry]
    run = run_ptc(*args)
    assert run.returncode == 2, run.stdout + run.stderr
    said = run.stdout + run.stderr
    assert message in said and str(path) in said, said
    assert "Traceback" not in said and "MemoryError" not in said


# -------------------------------------------------------------------------------------------------- manifests


def test_an_aliased_image_is_rewritten_once():
    text = "base: &b\n  image: nginx:1.27\nx:\n  <<: *b\ny: *b\nz: [*b, *b]\n"
    rewritten, changes = rewrite_manifest(text, OUTPUTS)
    assert len(changes) == 1
    document = yaml.safe_load(rewritten)
    expected = rewrite_image("nginx:1.27", OUTPUTS)
    assert document["base"]["image"] == document["x"]["image"] == document["y"]["image"] == expected
    assert rewritten.count(expected) == 1


ANCHORED = st.lists(
    st.tuples(st.sampled_from(["nginx:1.27", "ghcr.io/acme/api:2.4.0", "quay.io/x/y:1", "busybox"]), st.integers(0, 3)),
    min_size=1,
    max_size=8,
)


@settings(max_examples=150, deadline=None)
@given(ANCHORED)
def test_any_manifest_with_anchors_reads_back_with_every_image_rewritten_once(items):
    """Images under anchors, referenced by any number of aliases and merge keys: what the rewritten file says is,
    for every `image:` it holds, the rewrite of the original (never a rewrite applied twice)."""
    lines = []
    for index, (image, aliases) in enumerate(items):
        lines.append(f"a{index}: &n{index}\n  image: {image}\n")
        for alias in range(aliases):
            lines.append(f"m{index}x{alias}:\n  <<: *n{index}\n" if alias % 2 else f"r{index}x{alias}: *n{index}\n")
    text = "".join(lines)
    rewritten, _ = rewrite_manifest(text, OUTPUTS)
    before, after = yaml.safe_load(text), yaml.safe_load(rewritten)
    assert before.keys() == after.keys()
    for key, value in before.items():
        original = value["image"]
        try:
            expected = rewrite_image(original, OUTPUTS)
        except ValueError:
            expected = original  # uncached: left as written
        assert after[key]["image"] == expected, (key, text)


def test_in_place_writes_atomically_keeps_the_mode_and_refuses_a_symlink_out_of_the_tree(tmp_path):
    tree, outside = tmp_path / "tree", tmp_path / "outside"
    tree.mkdir()
    outside.mkdir()
    outputs = tree / "outputs.json"
    outputs.write_text(json.dumps(OUTPUTS))
    manifest = tree / "deploy.yaml"
    manifest.write_text("image: nginx:1.27\n")
    manifest.chmod(0o640)
    inside_link = tree / "link.yaml"
    inside_link.symlink_to(manifest)
    target = outside / "victim.yaml"
    target.write_text("image: nginx:1.27\n")
    (tree / "escape.yaml").symlink_to(target)

    def image(*files: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "ptc",
                "image",
                "--outputs",
                "outputs.json",
                "--in-place",
                *[a for f in files for a in ("--manifest", f)],
            ],
            cwd=tree,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )

    run = image("escape.yaml")
    assert run.returncode == 2 and "is a symlink to" in run.stderr and "outside" in run.stderr
    assert target.read_text() == "image: nginx:1.27\n"
    run = image("link.yaml")
    assert run.returncode == 0, run.stderr
    assert inside_link.is_symlink() and manifest.read_text() == f"image: {rewrite_image('nginx:1.27', OUTPUTS)}\n"
    assert manifest.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tree.iterdir()) == ["deploy.yaml", "escape.yaml", "link.yaml", "outputs.json"]


@pytest.mark.parametrize(
    ("text", "encoding", "directory"),
    [
        ("name: p\nruntime: python\nstackConfigDir: stacks\n", "utf-16", "stacks"),  # yaml.v3 reads the BOM
        ("name: p\nruntime: python\nstackConfigDir: on\n", "utf-8", "on"),  # YAML 1.2: text, not a boolean
        ("base: &b {stackConfigDir: cfg}\nname: p\nruntime: python\n<<: *b\n", "utf-8", "cfg"),  # a merge key
    ],
)
def test_the_program_and_ptc_find_the_stack_file_in_one_place(tmp_path, monkeypatch, text, encoding, directory):
    """The program (`stack_file_path`, to see which credentials are plain) and `ptc` (`stack_file`) read
    Pulumi.yaml's `stackConfigDir` with the one loader of the CLI's rules; the program once read it by YAML 1.1 and
    looked elsewhere."""
    from ecr_pull_through_cache.config import stack_file_path
    from ptc.stack_config import stack_file

    monkeypatch.delenv("ECR_PTC_STACK_FILE", raising=False)
    (tmp_path / "Pulumi.yaml").write_bytes(text.encode(encoding))
    expected = tmp_path / directory / "Pulumi.dev.yaml"
    assert stack_file_path("dev", tmp_path) == expected
    assert stack_file(tmp_path, "dev") == expected


# ---------------------------------------------------------------------------------------------- yaml.v3 as judge

SCALARS = [
    "yes",
    "no",
    "on",
    "off",
    "y",
    "n",
    "true",
    "True",
    "TRUE",
    "tRUE",
    "false",
    "null",
    "Null",
    "~",
    "NULL",
    "0777",
    "0o17",
    "0O17",
    "0x1F",
    "0X1f",
    "0b101",
    "-0b11",
    "0B1",
    "1_000",
    "0x_1F",
    "+1",
    "-0",
    "+0x10",
    "08",
    "09.5",
    "1e3",
    "1E3",
    "1.5e+3",
    ".5",
    "5.",
    "-.5",
    ".5e2",
    "1e400",
    "-1e400",
    "1e-400",
    ".inf",
    "-.Inf",
    "+.INF",
    ".nan",
    ".NaN",
    "-.nan",
    ".Nan",
    "1:20:30",
    "12:30",
    "2026-12-02",
    "2026-2-3",
    "2026-02-30",
    "2026-12-02T10:00:00Z",
    "2026-12-02t10:00:00Z",
    "2026-12-02T10:00:00.123456789+02:00",
    "2026-12-02T10:00:00.1234567891Z",
    "2026-12-02 10:00:00",
    "2026-12-02 10:00:00Z",
    "2026-12-02T25:00:00Z",
    "2026-12-02T10:00:00+00:00",
    "2026-12-02T10:00:00-00:00",
    "20261-12-02",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "0.",
    "-",
    "+",
    ".",
    "0x",
    "0b",
    "'0777'",
    '"yes"',
    "!!str 0777",
    "!!int 0777",
    "!!int '1_000'",
    "!!int 1.5",
    "!!float 1",
    "!!float 0x10",
    "!!bool yes",
    "!!bool True",
    "!!null ''",
    "!!timestamp 2026-12-02",
    "!!timestamp x",
    "12e",
    "1__0",
    "_1",
]


@st.composite
def yaml_documents(draw):
    """Small config documents of tricky scalars, nested, with anchors and merge keys now and then."""
    scalar = st.sampled_from(SCALARS)
    leaf = scalar.map(lambda s: s)

    def block(depth: int) -> str:
        keys = draw(st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=3, unique=True))
        lines = []
        for key in keys:
            kind = draw(st.integers(0, 4 if depth < 2 else 1))
            if kind <= 1:
                lines.append(f"{key}: {draw(leaf)}")
            elif kind == 2:
                items = draw(st.lists(leaf, min_size=1, max_size=3))
                lines.append(f"{key}: [{', '.join(items)}]")
            elif kind == 3:
                inner = block(depth + 1).replace("\n", "\n  ")
                lines.append(f"{key}:\n  {inner}")
            else:
                lines.append(f"{key}: {{x: {draw(leaf)}, y: {draw(leaf)}}}")
        return "\n".join(lines)

    text = block(0)
    if draw(st.booleans()):
        text = f"base: &b {{k: {draw(leaf)}, a: {draw(leaf)}}}\n" + text + "\nz:\n  <<: *b\n  k: 1"
    return text + "\n"


def _canonical(value):
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if isinstance(value, float):
        return {"$float": "NaN" if value != value else repr(value)}
    return value


def _same(ours, go) -> bool:
    if isinstance(go, dict) and set(go) == {"$float"}:
        return (
            isinstance(ours, dict)
            and set(ours) == {"$float"}
            and (ours["$float"] == go["$float"] or float(ours["$float"]) == float(go["$float"]))
        )
    if isinstance(go, dict):
        return isinstance(ours, dict) and set(ours) == set(go) and all(_same(ours[k], go[k]) for k in go)
    if isinstance(go, list):
        return isinstance(ours, list) and len(ours) == len(go) and all(map(_same, ours, go))
    return type(ours) is type(go) and ours == go


def test_stack_files_are_read_as_yaml_v3_reads_them():
    """gopkg.in/yaml.v3 itself (tests/go_oracle), over generated documents of the scalars where YAML readers part
    ways: the loader agrees on every value (`0777` is 511, `08` the float 8, `1_000` is 1000, `2026-12-02` the text
    Pulumi's config makes of a timestamp), and refuses what yaml.v3 refuses."""
    from tests import go_oracle

    documents: list[str] = []

    @settings(max_examples=1500, deadline=None, derandomize=True)
    @given(yaml_documents())
    def collect(text: str) -> None:
        documents.append(text)

    collect()
    documents += [f"v: {scalar}\n" for scalar in SCALARS]
    answers = go_oracle.ask("yaml", [json.dumps(text) for text in documents])
    for text, answer in zip(documents, answers, strict=True):
        try:
            ours = _canonical(loads(text))
        except YamlError:
            ours = None
        expected = None if answer == "refused" else json.loads(answer)
        assert (ours is None) == (expected is None) and (ours is None or _same(ours, expected)), (text, ours, answer)
