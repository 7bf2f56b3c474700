"""Kibana saved objects: data views per class, a saved search per service, importable NDJSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from edu_platform import platform as edu
from obs import contract, schemas
from obs.checks import kibana as kibana_checks
from obs.renderers import kibana
from tests.pipelines.conftest import ENVIRONMENTS, golden_files


def test_rendered_files_match_the_golden_files(built: Path, golden: Callable[[str, bytes], None]) -> None:
    files = list(golden_files(built, "kibana"))
    assert len(files) == len(ENVIRONMENTS)
    for rel, path in files:
        golden(f"kibana/{rel}", path.read_bytes())


def test_the_file_is_one_saved_object_per_line(built: Path) -> None:
    lines = (built / "prod" / kibana.SAVED_OBJECTS_PATH).read_text().splitlines()
    objects = [json.loads(line) for line in lines]
    assert [o["type"] for o in objects].count("index-pattern") == 1 + len(contract.LOG_CLASSES)
    assert schemas.validate("kibana-saved-objects", objects) == []


def test_every_instrumented_service_has_a_saved_search_over_all_logs() -> None:
    searches = {o["id"]: o for o in kibana.saved_objects(edu) if o["type"] == "search"}
    assert set(searches) == {f"logs-edu-{s.name}" for s in edu.instrumented_services}
    for service in edu.instrumented_services:
        search = searches[f"logs-edu-{service.name}"]
        source = json.loads(search["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
        assert source["query"] == {"query": f'service.name : "{service.name}"', "language": "kuery"}
        assert search["references"] == [{"name": source["indexRefName"], "type": "index-pattern", "id": "logs-edu"}]
        assert contract.TRACE_ID_FIELD in search["attributes"]["columns"]


def test_trace_ids_link_to_jaeger() -> None:
    view = kibana.saved_objects(edu)[0]
    formats = json.loads(view["attributes"]["fieldFormatMap"])
    assert formats[contract.TRACE_ID_FIELD]["params"]["urlTemplate"] == "https://jaeger.edu.example.org/trace/{{value}}"


def test_check_reports_a_search_whose_data_view_is_missing(built: Path, tmp_path: Path) -> None:
    objects = [o for o in kibana.saved_objects(edu) if o["id"] != "logs-edu"]
    path = tmp_path / kibana.SAVED_OBJECTS_PATH
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(o) + "\n" for o in objects))
    outcomes = {o.name: o for o in kibana_checks.check(tmp_path)}
    assert outcomes["kibana references resolve inside the file"].status == "failed"
    assert "index-pattern logs-edu" in outcomes["kibana references resolve inside the file"].detail


def test_check_passes_on_the_written_file(built: Path) -> None:
    assert all(o.status == "passed" for o in kibana_checks.check(built / "prod"))
