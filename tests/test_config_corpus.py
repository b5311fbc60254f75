"""The committed bad-config corpus: every config fault message, compared with the messages committed beside it.

`tests/corpus/bad_configs.jsonl` holds one `parse_settings` call per line (the config values, where the stack deploys,
and the reader's findings), collected from the config tests so that every distinct fault message appears at least
once. `tests/corpus/bad_configs.messages` holds what each call reported when the corpus was committed. A change to
the validation that changes any message shows up here as a diff to review; once reviewed, rewrite the expected file
with `UPDATE_CORPUS=1 .venv/bin/python -m pytest tests/test_config_corpus.py`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ecr_pull_through_cache.config import ConfigError, Fault, StackContext, parse_settings

CORPUS = Path(__file__).parent / "corpus"
CASES = CORPUS / "bad_configs.jsonl"
EXPECTED = CORPUS / "bad_configs.messages"


def messages_of(case: dict[str, Any]) -> list[str]:
    context = StackContext(**case["context"]) if case["context"] else None
    prior = [Fault(*fault) for fault in case["prior"]]
    try:
        parse_settings(case["raw"], context, faults=prior, **case["options"])
    except ConfigError as err:
        return [str(fault) for fault in err.faults]
    return []


def report() -> str:
    blocks = []
    for number, line in enumerate(CASES.read_bytes().decode("utf-8").split("\n")[:-1], start=1):
        messages = messages_of(json.loads(line))
        blocks.append("\n".join([f"## case {number}", *(messages or ["(valid)"])]))
    return "\n\n".join(blocks) + "\n"


def test_every_case_of_the_corpus_reports_the_committed_messages():
    actual = report()
    if os.environ.get("UPDATE_CORPUS") == "1":
        EXPECTED.write_bytes(actual.encode("utf-8"))
    expected = EXPECTED.read_bytes().decode("utf-8")
    assert actual == expected, "config messages changed: review `git diff` after UPDATE_CORPUS=1"


def test_every_case_of_the_corpus_is_a_bad_config():
    assert "(valid)" not in EXPECTED.read_text(encoding="utf-8")
