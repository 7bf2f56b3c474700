"""The exemplar files of multiprocess mode: a worker writes its latest exemplar per bucket, the
scrape gives each bucket the newest over all workers, and a dead worker's file goes with it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from prometheus_client import CollectorRegistry, Histogram

from exporters.exemplars import ExemplarStore, exemplar_file, read_latest, with_exemplars
from exporters.prometheus import child_exit

LABELS = ("GET", "/items/{id}", "200")


def test_a_worker_writes_the_latest_exemplar_of_each_bucket(tmp_path: Path) -> None:
    store = ExemplarStore(str(tmp_path), interval=3600)
    store.record(LABELS, 0.1, {"trace_id": "a" * 32}, 0.05, 10.0)
    store.record(LABELS, 0.1, {"trace_id": "b" * 32}, 0.07, 11.0)  # the same bucket: replaced
    store.record(LABELS, float("inf"), {"trace_id": "c" * 32}, 99.0, 12.0)
    store.write()
    written = json.loads(exemplar_file(str(tmp_path), os.getpid()).read_text())
    assert sorted((bound, ex["trace_id"][0]) for _, bound, ex, _, _ in written) == [(0.1, "b"), (float("inf"), "c")]
    mtime = exemplar_file(str(tmp_path), os.getpid()).stat().st_mtime_ns
    store.write()  # nothing changed: nothing written
    assert exemplar_file(str(tmp_path), os.getpid()).stat().st_mtime_ns == mtime


def _write(directory: Path, pid: int, entries: list[list[object]]) -> None:
    exemplar_file(str(directory), pid).write_text(json.dumps(entries))


def test_the_scrape_gives_each_bucket_the_newest_exemplar_of_any_worker(tmp_path: Path) -> None:
    _write(tmp_path, 101, [[list(LABELS), 0.1, {"trace_id": "1" * 32}, 0.05, 100.0]])
    _write(tmp_path, 102, [[list(LABELS), 0.1, {"trace_id": "2" * 32}, 0.06, 200.0],
                           [list(LABELS), 0.5, {"trace_id": "3" * 32}, 0.3, 150.0]])  # fmt: skip
    (tmp_path / "obs-exemplars-103.json").write_text("{torn")  # a worker writing it now: skipped
    registry = CollectorRegistry()
    histogram = Histogram("http_d_seconds", "d", ["m", "r", "s"], buckets=(0.1, 0.5), registry=registry)
    histogram.labels(*LABELS).observe(0.05)
    families = list(with_exemplars(registry.collect(), "http_d_seconds", ("m", "r", "s"), str(tmp_path)))
    exemplars = {
        s.labels["le"]: s.exemplar.labels["trace_id"][0] for f in families for s in f.samples if s.exemplar
    }
    assert exemplars == {"0.1": "2", "0.5": "3"}
    assert read_latest(str(tmp_path))[(LABELS, 0.1)][2] == 200.0


def test_a_dead_workers_exemplar_file_is_removed_with_its_gauges(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    _write(tmp_path, 4242, [])
    child_exit(None, SimpleNamespace(pid=4242))
    assert not exemplar_file(str(tmp_path), 4242).exists()


def test_a_forked_child_starts_without_its_parents_exemplars(tmp_path: Path) -> None:
    store = ExemplarStore(str(tmp_path), interval=3600)
    store.record(LABELS, 0.1, {"trace_id": "a" * 32}, 0.05, 10.0)
    pid = os.fork()
    if pid == 0:  # the child: nothing to write of the parent's
        store.write()
        os._exit(0 if not exemplar_file(str(tmp_path), os.getpid()).exists() else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
