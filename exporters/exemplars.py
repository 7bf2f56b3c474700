"""Exemplars with several workers (prometheus_client's multiprocess mode stores none).

A gunicorn or ``uvicorn --workers`` service keeps its metrics in ``PROMETHEUS_MULTIPROC_DIR``,
one file per worker, merged by whichever worker answers the scrape; prometheus_client keeps no
exemplars there, so the latency panels of a multi-process service linked to no trace. Here:

- each worker keeps the latest exemplar of each bucket of each label set in memory
  (``ExemplarStore.record``: one dict store on the request's path) and a daemon thread writes them,
  when they changed, to the worker's own file next to prometheus_client's
  (``obs-exemplars-<pid>.json``, replaced atomically) every ``interval`` seconds;
- the scrape (``with_exemplars``) reads every worker's file and gives each bucket sample the newest
  exemplar any worker has for it, so the OpenMetrics exposition carries it and Prometheus stores it.

Bounded: one exemplar per bucket per label set per worker (the label sets are the contract's
bounded ones), a file per live worker (the gunicorn ``child_exit`` hook removes a dead worker's).
Exemplars are at most ``interval`` seconds behind the counts.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import threading
import weakref
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from prometheus_client.samples import Exemplar, Sample

_log = logging.getLogger("obs.exporters.exemplars")
FILE_PREFIX = "obs-exemplars-"
#: Seconds between two writes of a worker's exemplars (only when they changed).
WRITE_INTERVAL = 1.0

#: (label values, bucket upper bound) -> (exemplar labels, value, timestamp)
Latest = dict[tuple[tuple[str, ...], float], tuple[dict[str, str], float, float]]


def exemplar_file(directory: str, pid: int) -> Path:
    return Path(directory) / f"{FILE_PREFIX}{pid}.json"


class ExemplarStore:
    """This worker's latest exemplar per (label set, bucket), written to its file in ``directory``."""

    def __init__(self, directory: str, interval: float = WRITE_INTERVAL) -> None:
        self.directory = directory
        self.interval = interval
        self._latest: Latest = {}
        self._changed = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        forked = weakref.WeakMethod(self._after_fork_in_child)
        os.register_at_fork(after_in_child=lambda: (m := forked()) is not None and m())
        write = weakref.WeakMethod(self.write)
        atexit.register(lambda: (m := write()) is not None and m())  # the last second's exemplars

    def record(self, labels: tuple[str, ...], bound: float, exemplar: dict[str, str], value: float, now: float) -> None:
        """The request's path: remember this exemplar as its bucket's latest (the writer thread,
        started in this process on the first exemplar, takes it from there)."""
        self._latest[(labels, bound)] = (exemplar, value, now)
        self._changed = True
        if self._thread is None:
            self._start()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="obs-exemplars", daemon=True)
                self._thread.start()

    def _after_fork_in_child(self) -> None:
        self._latest = {}  # the parent's exemplars are the parent's to write
        self._changed = False
        self._thread = None
        self._lock = threading.Lock()

    def _run(self) -> None:
        stop = threading.Event()
        while not stop.wait(self.interval):
            self.write()

    def write(self) -> None:
        """Write the exemplars to this process's file if they changed (atomically). Never raises."""
        if not self._changed:
            return
        self._changed = False
        entries = [
            [list(labels), bound, exemplar, value, timestamp]
            for (labels, bound), (exemplar, value, timestamp) in list(self._latest.items())
        ]
        path = exemplar_file(self.directory, os.getpid())
        tmp = path.with_name(path.name + ".tmp")
        try:
            tmp.write_text(json.dumps(entries, separators=(",", ":")), encoding="utf-8")
            os.replace(tmp, path)
        except OSError:
            self._changed = True  # try again next time
            _log.debug("exemplars not written to %s", path, exc_info=True)


def read_latest(directory: str) -> Latest:
    """Every worker's exemplars in ``directory``, the newest of each (label set, bucket)."""
    latest: Latest = {}
    for path in sorted(Path(directory).glob(f"{FILE_PREFIX}*.json")):
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # a worker writing it now, or gone: the next scrape
            continue
        for labels, bound, exemplar, value, timestamp in entries:
            key = (tuple(labels), float(bound))
            known = latest.get(key)
            if known is None or timestamp > known[2]:
                latest[key] = (exemplar, value, timestamp)
    return latest


def with_exemplars(families: Iterable[Any], name: str, label_names: Sequence[str], directory: str) -> Iterator[Any]:
    """``families`` (one scrape's metric families) with the exemplars of ``directory`` on the
    bucket samples of histogram ``name`` whose labels are ``label_names``."""
    latest: Latest | None = None
    for family in families:
        if family.name == name and family.type == "histogram":
            if latest is None:
                latest = read_latest(directory)
            samples = []
            for sample in family.samples:
                found = None
                if sample.name == name + "_bucket" and sample.exemplar is None:
                    key = (tuple(sample.labels.get(n, "") for n in label_names), float(sample.labels["le"]))
                    found = latest.get(key)
                if found is None:
                    samples.append(sample)
                    continue
                exemplar = Exemplar(found[0], found[1], found[2])
                samples.append(Sample(sample.name, sample.labels, sample.value, sample.timestamp, exemplar))
            family.samples = samples
        yield family


def remove_exemplar_file(directory: str, pid: int) -> None:
    """A dead worker's file (gunicorn ``child_exit``)."""
    with contextlib.suppress(OSError):
        exemplar_file(directory, pid).unlink()


__all__ = [
    "FILE_PREFIX",
    "WRITE_INTERVAL",
    "ExemplarStore",
    "exemplar_file",
    "read_latest",
    "remove_exemplar_file",
    "with_exemplars",
]
