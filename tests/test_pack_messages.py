"""Values in the packs' messages as the user wrote them (issue 30, messages): whole numbers as integers although
protobuf's Struct sends every number as a double, and strings a reader cannot see or tell apart shown escaped."""

from __future__ import annotations

import importlib.util

from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import ROOT

_spec = importlib.util.spec_from_file_location("pack_support", ROOT / "policies" / "security" / "support.py")
assert _spec and _spec.loader
support = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(support)


@given(st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1))
def test_a_whole_number_is_shown_as_the_integer_written(number):
    assert support.shown(float(number)) == str(number)
    assert support.shown([float(number)]) == f"[{number}]"


@given(st.text(max_size=60))
def test_every_string_is_shown_in_characters_a_reader_can_see(text):
    shown = support.shown(text, limit=10_000)
    assert shown.isascii() and shown.isprintable()
    if text.isascii() and text.isprintable():
        assert shown == text, "a plain string is quoted as written"
    else:
        assert "shown escaped" in shown


def test_the_issues_examples():
    assert support.shown(999988887777.0) == "999988887777"
    assert support.shown(10.0) == "10"
    assert support.shown(0.5) == "0.5"
    assert support.shown("arn:aws:iam::111122223333:root\n", limit=200).startswith("arn:aws:iam::111122223333:root\\n")
    assert support.shown("\uff51uay.io", limit=200).startswith("\\uff51uay.io")
