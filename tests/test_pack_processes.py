"""How `ptc preview` runs the packs: each as a fresh `python -m pulumi.policy` would run, nothing left behind.

The `ptc` command forks a relay that starts each pack as its own process, as the Pulumi CLI does; these tests hold
the packs to what the CLI gives a pack, and the command to leaving no process behind although it skips the
interpreter's teardown.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_ptc, write_project

pytestmark = pytest.mark.e2e

PROGRAM = """
import os

import pulumi

pulumi.CustomResource("random:index/randomId:RandomId", "one", {"byteLength": 4})
"""

PROBE_PACK = """
import json
import os
import sys

from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy

import probe_helper  # a module of the pack's own directory, found as `python -m` in that directory finds it

LEFT = sorted({m.split(".")[0] for m in sys.modules} & {"ptc", "ecr_pull_through_cache", "pulumi_aws", "rich"})


def report(args, report_violation):
    report_violation(json.dumps({"path0": sys.path[0], "cwd": os.getcwd(), "left": LEFT,
                                 "stack": os.environ.get("PULUMI_STACK"), "helper": probe_helper.NAME}))


PolicyPack(name="probe", enforcement_level=EnforcementLevel.ADVISORY,
           policies=[ResourceValidationPolicy(name="probe", description="where the pack runs", validate=report)])
"""


def project(tmp_path: Path) -> Path:
    root = write_project(tmp_path / "project", "probe-project", PROGRAM)
    pack = root / "policies" / "probe"
    pack.mkdir(parents=True)
    (pack / "PulumiPolicy.yaml").write_text("runtime: python\nversion: 0.1.0\n")
    (pack / "__main__.py").write_text(PROBE_PACK)
    (pack / "probe_helper.py").write_text("NAME = 'the pack folder'\n")
    return root


def preview(root: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return run_ptc("preview", "-C", str(root), "--stack", "dev", "--json", env=env)


def probe(result: subprocess.CompletedProcess[str]) -> dict:
    assert result.returncode == 0, result.stderr
    (violation,) = [v for v in json.loads(result.stdout)["violations"] if v["policy"] == "probe"]
    return json.loads(violation["message"])


def test_a_pack_started_by_ptc_runs_as_a_fresh_python_m_pulumi_policy(tmp_path: Path) -> None:
    root = project(tmp_path)
    seen = probe(preview(root))
    pack = str((root / "policies" / "probe").resolve())
    assert seen["path0"] == pack and seen["cwd"] == pack, "as `python -m` in the pack's directory"
    assert seen["helper"] == "the pack folder"
    assert seen["left"] == [], "nothing ptc imported for itself reaches the pack"
    assert seen["stack"] == "dev"


def test_the_relay_and_packs_called_from_ptc_give_the_pack_the_same(tmp_path: Path) -> None:
    """Packs started by the relay, and packs called from ptc itself (library callers): the pack sees one world."""
    root = project(tmp_path)
    assert probe(preview(root, PTC_PACK_RELAY="0")) == probe(preview(root))


BROKEN_PACK = """
import os

raise RuntimeError("cannot start with " + os.environ["PULUMI_CONFIG"])
"""


@pytest.mark.parametrize("relay", ["1", "0"], ids=["relay", "in-process"])
def test_a_pack_that_cannot_start_is_named_with_its_error_and_no_secret(tmp_path: Path, relay: str) -> None:
    root = project(tmp_path)
    (root / "Pulumi.dev.yaml").write_text(
        "config:\n  aws:region: us-east-2\n  probe-project:password:\n    secure: hunter2-not-for-logs\n"
    )
    (root / "policies" / "probe" / "__main__.py").write_text(BROKEN_PACK)
    result = preview(root, PTC_PACK_RELAY=relay)
    assert result.returncode == 2, result.stderr
    error = json.loads(result.stdout)["error"]
    assert "policy pack probe did not start" in error and "cannot start with" in error
    assert "hunter2-not-for-logs" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


FAILING_PACK = """
import os
import sys

from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy


def judge(args, report_violation):
    said = "the pack gave up on " + os.environ.get("PULUMI_CONFIG", "")  # the stack's config, its secret too
    if HOW == "exits":
        print(said, file=sys.stderr, flush=True)
        os._exit(3)
    raise ValueError(said)


PolicyPack(name="probe", enforcement_level=EnforcementLevel.ADVISORY,
           policies=[ResourceValidationPolicy(name="probe", description="fails mid-run", validate=judge)])
"""


@pytest.mark.parametrize("how", ["exits", "raises"])
@pytest.mark.parametrize("relay", ["1", "0"], ids=["relay", "in-process"])
def test_a_pack_that_fails_mid_run_is_named_with_what_it_said_and_no_secret(
    tmp_path: Path, relay: str, how: str
) -> None:
    """Started and then failing an Analyze call (its process gone, or an exception answered), a pack is named
    with its stderr or its error, as a pack that cannot start is; exit 2 in either mode, no traceback."""
    root = project(tmp_path)
    (root / "Pulumi.dev.yaml").write_text(
        "config:\n  aws:region: us-east-2\n  probe-project:password:\n    secure: hunter2-not-for-logs\n"
    )
    (root / "policies" / "probe" / "__main__.py").write_text(f"HOW = {how!r}\n" + FAILING_PACK)
    result = preview(root, PTC_PACK_RELAY=relay)
    assert result.returncode == 2, result.stderr
    error = json.loads(result.stdout)["error"]
    assert "policy pack probe failed" in error and "the pack gave up on" in error
    assert ("stopped" in error) == (how == "exits")
    assert "hunter2-not-for-logs" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return found


def test_a_relay_gone_mid_run_is_reported_and_leaves_nothing_behind(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "__main__.py").write_text(
        SLOW_PROGRAM.replace("time.sleep(120)  # killed long before this ends", "time.sleep(3)")
    )
    marker = uuid.uuid4().hex
    ptc = _start_preview(root, marker, subprocess.PIPE)
    deadline = time.monotonic() + 300
    while len(_processes_with(marker)) < 3 and time.monotonic() < deadline:  # ptc, relay, pack
        time.sleep(0.05)
    (relay,) = _children(ptc.pid)
    os.kill(relay, signal.SIGKILL)
    out, err = ptc.communicate(timeout=60)
    assert ptc.returncode == 2, err
    assert "stopped before they answered" in json.loads(out)["error"] and "Traceback" not in err
    deadline = time.monotonic() + 120
    while (left := _processes_with(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"left running: {left}"


def test_ptc_leaves_no_process_behind(tmp_path: Path) -> None:
    """It exits without the interpreter's teardown, after stopping every pack itself."""
    marker = uuid.uuid4().hex
    result = preview(project(tmp_path), PTC_TEST_MARKER=marker)
    assert result.returncode == 0, result.stderr
    json.loads(result.stdout)  # the whole report reached the pipe before the quick exit
    deadline = time.monotonic() + 120
    while (left := _processes_with(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"left running: {left}"


def _start_preview(root: Path, marker: str, streams: int, **env: str) -> subprocess.Popen[str]:
    """`ptc preview` of `root`'s dev stack, started as a user starts it, marked for `_processes_with`."""
    return subprocess.Popen(
        [sys.executable, "-m", "ptc", "preview", "-C", str(root), "--stack", "dev", "--json"],
        cwd=ROOT,
        env={**os.environ, **env, "PTC_TEST_MARKER": marker},
        stdout=streams,
        stderr=streams,
        text=True,
    )


SLOW_PROGRAM = """
import time

import pulumi

pulumi.CustomResource("random:index/randomId:RandomId", "one", {"byteLength": 4})
time.sleep(120)  # killed long before this ends
"""


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT], ids=["SIGKILL", "SIGTERM", "SIGINT"])
@pytest.mark.parametrize(
    "mode",
    [{}, {"PTC_PACK_RELAY": "0"}],
    ids=["relay", "packs-from-ptc"],
)
def test_no_pack_outlives_a_ptc_that_is_killed(tmp_path: Path, how: signal.Signals, mode: dict[str, str]) -> None:
    """Killed mid-run (no atexit, no cleanup of its own with SIGKILL), ptc still leaves no relay or pack
    behind; a plain pack started by ptc itself ends with it too (the kernel's parent-death signal)."""
    root = project(tmp_path)
    (root / "__main__.py").write_text(SLOW_PROGRAM)
    marker = uuid.uuid4().hex
    ptc = _start_preview(root, marker, subprocess.DEVNULL, **mode)
    expected = 2 if mode else 3  # ptc and the pack; or ptc, its relay, the pack
    try:
        deadline = time.monotonic() + 300
        while len(_processes_with(marker)) < expected and time.monotonic() < deadline:
            time.sleep(0.05)
        started = _processes_with(marker)
        assert len(started) >= expected, f"the packs never started: {started}"
        time.sleep(0.5)  # the program is running now, its resource analyzed
    finally:
        ptc.send_signal(how)
        ptc.wait(timeout=30)
    deadline = time.monotonic() + 120
    while (left := _processes_with(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"left running after ptc got {how.name}: {left}"


def test_ptc_output_is_complete_through_a_pipe_that_closes_early(tmp_path: Path) -> None:
    root = project(tmp_path)
    result = subprocess.run(
        f"{sys.executable} -m ptc preview -C {root} --stack dev | head -c 10",
        shell=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert len(result.stdout) == 10 and "Traceback" not in result.stderr


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if f"PTC_TEST_MARKER={marker}".encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_streaming_registrations_to_the_packs_reports_what_a_run_over_the_finished_stack_does() -> None:
    """`ptc preview` analyzes each resource as it is registered; the violations are those of `PolicyPacks.run`
    over the finished stack."""
    from ptc.analyzer import PolicyPacks, pack_dirs
    from ptc.mock_engine import run_program
    from ptc.stack_config import load_stack_config

    streamed = run_ptc("preview", "--stack", "prod", "--json")
    assert streamed.returncode == 0, streamed.stderr
    config = load_stack_config(ROOT, stack="prod")
    result = run_program(ROOT, config, preview=True)
    with PolicyPacks(pack_dirs(ROOT), config, dry_run=True) as packs:
        batch = packs.run(result.resources).violations

    def key(v: dict) -> str:
        return json.dumps(v, sort_keys=True)

    # The SDK registers sibling resources from several threads, so their order differs from run to run.
    assert sorted(json.loads(streamed.stdout)["violations"], key=key) == sorted(batch, key=key) and batch


def test_two_previews_of_one_stack_report_the_same_violations_in_the_same_order() -> None:
    runs = [run_ptc("preview", "--stack", "prod", "--json") for _ in range(3)]
    reports = [json.loads(r.stdout)["violations"] for r in runs]
    assert reports[0] and reports[0] == reports[1] == reports[2]


def test_a_plain_pack_starts_while_other_threads_are_in_grpc_calls(tmp_path: Path, monkeypatch) -> None:
    """ptc starts packs from its main thread while gRPC is busy in its other threads: the engine
    server, the channels of packs already started. Each pack must start: a start that forks this whole process and
    runs Python in the child before exec (a preexec_fn) crashed now and then in gRPC's fork handlers."""
    import threading

    import grpc
    from pulumi.runtime.proto import engine_pb2, engine_pb2_grpc

    from ptc import pack_launch
    from ptc.analyzer import EngineServer

    pack = project(tmp_path) / "policies" / "probe"
    server = EngineServer()
    done = threading.Event()

    def keep_calling() -> None:
        with grpc.insecure_channel(server.address) as channel:
            engine = engine_pb2_grpc.EngineStub(channel)
            while not done.is_set():
                engine.Log(engine_pb2.LogRequest(severity=engine_pb2.DEBUG, message="busy"))

    callers = [threading.Thread(target=keep_calling, daemon=True) for _ in range(4)]
    for caller in callers:
        caller.start()
    try:
        for _ in range(12):
            process = pack_launch.launch(sys.executable, [server.address, str(pack)], cwd=pack, env=dict(os.environ))
            try:
                line = process.stdout.readline()
                assert line.strip().isdigit(), f"the pack did not start: {line!r} {process.stderr.read()}"
            finally:
                pack_launch.stop(process)
    finally:
        done.set()
        for caller in callers:
            caller.join(timeout=10)
        server.stop()
