"""Other packages' private names are read in one module (``instrumentation._internals``), checked
once at import. Each is renamed in turn, as a newer release of its package might: its fast path
falls back to the public one, spans, metrics and access lines still flow for both frameworks, and
the reason is logged once."""

from __future__ import annotations

import ast
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from instrumentation import _internals
from obs.contract import HTTP_SERVER_DURATION, HTTP_SERVER_REQUESTS
from tests.instrumentation.conftest import ServiceFactory

ROOT = Path(__file__).resolve().parents[2]
KEYS = [entry.key for entry in _internals.INTERNALS]


@pytest.fixture
def renamed(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[str]:
    """``NAMES[key]`` renamed as a newer release might, the checks re-run; restored afterwards."""
    key = str(request.param)
    monkeypatch.setitem(_internals.NAMES, key, f"_{key}_renamed_by_a_newer_release")
    _internals.check()
    yield key
    monkeypatch.undo()
    _internals.check()


def test_every_private_name_is_in_the_table_and_the_table_has_no_stale_entry() -> None:
    assert sorted(_internals.NAMES) == sorted(KEYS)
    assert {e.feature for e in _internals.INTERNALS} <= set(_internals.FEATURES)
    source = (ROOT / "instrumentation" / "_internals.py").read_text()
    for key, name in _internals.NAMES.items():
        assert name in source, f"{key}: {name} is not read where the table says"


def test_at_import_every_fast_path_passed_its_check() -> None:
    """On the tested range of the packages, nothing falls back (else the range is wrong)."""
    failed = {feature: why for feature, why in _internals.CHECKED.items() if why is not None}
    assert failed == {}


#: Private attributes of obs's own objects that the other modules read on them.
OWN_PRIVATE = {"_undo", "_durations", "_after_fork_in_child", "_queue", "_shutdown", "_wake"}


def _private_uses(source: str) -> tuple[list[str], set[str]]:
    """(private names imported from other packages, private attributes read on anything but
    ``self``/``cls``) in ``source``."""
    tree = ast.parse(source)
    imported = [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level == 0
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")
    ]
    accessed = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
        and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
    }
    return imported, accessed


MODULES = sorted(
    str(p.relative_to(ROOT)) for folder in ("instrumentation", "exporters") for p in (ROOT / folder).glob("*.py")
)


@pytest.mark.parametrize("module", MODULES)
def test_no_other_module_reads_a_private_name_of_another_package(module: str) -> None:
    if module.endswith("_internals.py"):
        return
    imported, accessed = _private_uses((ROOT / module).read_text())
    assert imported == [], f"{module} imports private names {imported}"
    foreign = sorted(accessed - OWN_PRIVATE)
    assert foreign == [], f"{module} reads {foreign}: read them in _internals (or name them in OWN_PRIVATE)"


@pytest.mark.parametrize("renamed", KEYS, indirect=True)
def test_with_any_private_name_gone_spans_metrics_and_logs_still_flow(
    renamed: str, make_service: ServiceFactory, caplog: pytest.LogCaptureFixture
) -> None:
    entry = next(e for e in _internals.INTERNALS if e.key == renamed)
    feature = entry.feature
    checked_at_import = feature in _internals.CHECKED
    read_by_this_sdk = _internals.SDK_1_40 or renamed not in ("is_enabled", "on_ending")
    if checked_at_import and not entry.optional and read_by_this_sdk:
        assert _internals.CHECKED[feature] is not None, f"renaming {renamed} went unnoticed"
    with caplog.at_level(logging.WARNING, logger="obs.instrumentation"):
        for framework in ("fastapi", "flask"):
            service = make_service(framework)
            for n in range(3):
                assert service.get(f"/items/{n}").status == 200
            assert service.get("/boom").status == 500
            spans = service.server_spans()
            assert [s.name for s in spans].count(f"GET {service.item_template}") == 3, framework
            assert all(s.context is not None and s.context.trace_flags.sampled for s in spans)
            count = service.sample(
                HTTP_SERVER_REQUESTS.name,
                {"http_request_method": "GET", "http_route": service.item_template, "http_response_status_code": "200"},
            )
            assert count == 3.0, framework
            count = service.sample(
                HTTP_SERVER_DURATION.name + "_count",
                {"http_request_method": "GET", "http_route": service.item_template},
            )
            assert count == 3.0, framework
            access = [x for x in service.log_lines() if x["event.dataset"] == "access"]
            assert len(access) == 4 and all(len(x.get("trace.id", "")) == 32 for x in access), framework
            exemplars = service.get("/metrics", {"accept": "application/openmetrics-text"}).text
            assert "trace_id=" in exemplars, framework
    reasons = [r.getMessage() for r in caplog.records if r.getMessage().startswith(f"obs {feature} off")]
    if checked_at_import and _internals.CHECKED.get(feature) is not None:
        assert len(reasons) == 1, reasons  # once per process, however many apps
