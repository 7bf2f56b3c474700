"""The sample records the pipeline tests use match the contract's field list and types."""

from __future__ import annotations

import pytest

from obs import contract
from tests.pipelines.conftest import PYTHON_TYPES, SAMPLE_VALUES, _instrumentation_records, log_records


def test_samples_cover_the_contract() -> None:
    assert set(SAMPLE_VALUES) == {f.name for f in contract.LOG_FIELDS}


def test_every_sample_record_has_the_required_fields_with_their_types() -> None:
    for record in log_records():
        for f in contract.LOG_FIELDS:
            if f.required:
                assert f.name in record, f"{f.name} missing from {record}"
            if f.name in record:
                assert isinstance(record[f.name], PYTHON_TYPES[f.type]), f"{f.name}={record[f.name]!r} is not {f.type}"


def test_the_instrumentations_own_lines_are_among_the_samples_when_it_is_installed() -> None:
    pytest.importorskip("instrumentation.logs", reason="the instrumentation package is not installed yet")
    records = _instrumentation_records()
    assert records, "instrumentation.logs.JsonFormatter() could not be built without arguments"
    assert records[0] in log_records()
