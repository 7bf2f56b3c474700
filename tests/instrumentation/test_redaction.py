"""The hot path's redaction (``instrumentation._redaction``) is the contract's ``redact``, only
cheaper: the same output for any text, including texts built to trip its clue shortcut."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from instrumentation._redaction import redact_attributes, redact_path, redact_text
from obs import contract

#: Characters that case-fold onto ASCII letters in Python's regex engine (long s, Kelvin sign, dotless i) and
#: separators the rules care about.
_TRICKY = "\u017f\u212a\u0131\u0130@=:/ .-+()\t\n\u00a0"

_piece = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from(_TRICKY), max_size=20),
    st.sampled_from([example for rule in contract.REDACTION_RULES for example in rule.examples]),
    *(st.from_regex(rule.pattern, fullmatch=True) for rule in contract.REDACTION_RULES),
)
_texts = st.lists(st.one_of(_piece, _piece.map(str.upper)), max_size=6).map("".join)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_texts)
def test_redact_text_is_the_contracts_redact(text: str) -> None:
    assert redact_text(text) == contract.redact(text)


@pytest.mark.parametrize(
    "text",
    [
        "", "/items/42", "/api/v1/courses/1234/lessons/5678/progress", "BASIC dXNlcjpwYXNz", "ba\u017fic dXNlcjpwYXNz",
        "Bearer\u00a0abc.def", "PASSWORD=hunter2", "tokEn=x&y=1", "https://app:s3cret@db/x", "call +44 20 7946 0958",
        "mail ALICE@SCHOOL.EXAMPLE now", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig", "/q/\u0131d/\u017fession=1",
    ],
)  # fmt: skip
def test_known_cases_match_the_contract(text: str) -> None:
    assert redact_text(text) == contract.redact(text)


def test_clean_text_is_returned_as_is() -> None:
    text = "/api/v1/courses/1234/lessons/5678/progress"
    assert redact_text(text) is text


def test_paths_lose_their_query_and_personal_data() -> None:
    assert redact_path("/users/alice@school.example/grades?token=abc") == f"/users/{contract.REDACTED}/grades"


def test_attributes_redact_sensitive_keys_strings_and_string_items() -> None:
    got = redact_attributes(
        {"http.request.header.authorization": "Bearer x", "note": "for bob@school.example", "ids": ["a@b.co", 3]}
    )
    assert got == {
        "http.request.header.authorization": contract.REDACTED,
        "note": f"for {contract.REDACTED}",
        "ids": [contract.REDACTED, 3],
    }
