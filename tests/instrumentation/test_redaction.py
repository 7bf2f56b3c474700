"""The hot path's redaction (``instrumentation._redaction``) is the contract's ``redact``, only
cheaper: the same output for any text, including texts built to trip its clue shortcut."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from instrumentation._redaction import redact_attributes, redact_path, redact_text
from obs import contract
from tests.instrumentation.conftest import Service

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


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("/shop;jsessionid=0AB12CD34EF/cart", "0AB12CD34EF"),
        ("/basket;JSESSIONID=abc123", "abc123"),
        ("/php?x;PHPSESSID=deadbeef99", "deadbeef99"),
        ('login {"user": "bob", "password": "hunter2"}', "hunter2"),
        ('login {"user":"bob","password":"hun\\"ter2"}', "ter2"),
        ("kwargs {'api_key': 'k-123456', 'n': 2}", "k-123456"),
        ('{"access_token": 9988776655}', "9988776655"),
        ("form user=bob&password=hunter2&remember=1", "hunter2"),
        ("form user=bob&password = hunter2", "hunter2"),
        ("/users/frank.pii%40example.com/grades", "frank.pii"),
        ("/users/frank.pii%2540example.com/grades", "frank.pii"),
        ("/reset/password%3Dhunter2", "hunter2"),
        ("/reset/password%253Dhunter2", "hunter2"),
        ("/reset/password%253dhunter2", "hunter2"),
    ],
)  # fmt: skip
def test_path_parameters_json_form_and_percent_encoded_secrets_are_redacted(text: str, secret: str) -> None:
    assert secret not in contract.redact(text)
    assert redact_text(text) == contract.redact(text)


def _email_straddling_the_limit() -> str:
    from instrumentation._core import MAX_PATH

    head = "/reports/" + "x" * (MAX_PATH - 30) + "/"
    return head + "frank.pii@example.com/summary"  # the address starts ~20 characters before the limit


def test_an_email_cut_by_the_path_limit_is_redacted_before_the_cut() -> None:
    from instrumentation._core import MAX_PATH, clean_path

    path = _email_straddling_the_limit()
    assert "frank.pii@example.c" in path[:MAX_PATH] and len(path) > MAX_PATH
    cleaned = clean_path(path)
    assert len(cleaned) <= MAX_PATH
    assert "frank" not in cleaned and "example" not in cleaned


@pytest.mark.parametrize(
    "path",
    [
        "/a/" + "b" * 5000 + "/frank.pii@example.com",
        "/" + "y" * 1200 + "frank.pii@example.com" + "z" * 400,  # one segment over the window
        "/a;" + "c" * 1250 + ";jsessionid=0AB12CD34EF" + "d" * 300,
    ],
)
def test_a_path_longer_than_the_redaction_window_keeps_no_part_of_a_secret(path: str) -> None:
    from instrumentation._core import MAX_PATH, clean_path

    cleaned = clean_path(path)
    assert len(cleaned) <= MAX_PATH
    for fragment in ("frank", "example", "0AB12"):
        assert fragment not in cleaned


def test_the_recorded_path_of_a_request_holds_no_secret(service: Service) -> None:
    paths = [_email_straddling_the_limit(), "/shop;jsessionid=0AB12CD34EF/items/4", "/u/frank.pii%2540example.com"]
    for path in paths:
        service.get(path)
    recorded = [str((s.attributes or {})["url.path"]) for s in service.spans()]
    recorded += [line["url.path"] for line in service.log_lines() if line["event.dataset"] == "access"]
    assert len(recorded) == 2 * len(paths)
    for value in recorded:
        for fragment in ("frank", "0AB12CD34EF"):
            assert fragment not in value, value


def test_json_and_form_secrets_in_log_messages_are_redacted(service: Service) -> None:
    import logging

    logging.getLogger("tests.app").warning('login {"user": "bob", "password": "hunter2"} form token=abc123&x=1')
    (line,) = [x for x in service.log_lines() if x["log.logger"] == "tests.app"]
    assert "hunter2" not in line["message"] and "abc123" not in line["message"]
