"""The mock engine as a library: runs repeat in one process, leave nothing open, and `collect=False` changes only
when the run's objects are freed."""

from __future__ import annotations

import gc
import os
import subprocess
import sys

from ptc.mock_engine import run_program
from tests.conftest import ROOT, stack_config, stack_file


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _dev(**options: bool):
    result = run_program(ROOT, stack_config(stack_file("dev"), "dev"), preview=True, **options)
    assert result.error is None, result.error
    return result


def test_runs_in_one_process_leave_no_event_loop_or_descriptor_open() -> None:
    """Each worker thread's event loop lives for one run: the next run opens new ones where they were closed."""
    _dev()
    before = _open_fds()
    for _ in range(4):
        _dev()
    assert _open_fds() <= before


def test_collect_false_registers_the_same_and_leaves_the_collector_as_it_found_it() -> None:
    collected = _dev()
    assert gc.isenabled()
    kept = _dev(collect=False)
    assert gc.isenabled(), "the collector runs again after the run; only the run's objects are left out of it"
    # Sorted: the SDK registers siblings from several threads, in an order that varies between runs.
    assert sorted((r.urn, str(r.properties)) for r in kept.resources) == sorted(
        (r.urn, str(r.properties)) for r in collected.resources
    )
    assert kept.outputs == collected.outputs
    gc.unfreeze()  # give the frozen objects back to the collector, for the tests that run after this one


def test_a_process_that_ran_programs_exits_quietly() -> None:
    """No event loop is left for the interpreter's teardown to find half-closed ("Invalid file descriptor")."""
    script = (
        "from tests.conftest import ROOT, stack_config, stack_file\n"
        "from ptc.mock_engine import run_program\n"
        "for _ in range(2):\n"
        "    assert run_program(ROOT, stack_config(stack_file('dev'), 'dev'), preview=True).error is None\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stderr == "", done.stderr
