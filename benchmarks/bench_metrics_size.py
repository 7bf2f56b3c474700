"""What one service's ``/metrics`` weighs: obs against prometheus-fastapi-instrumentator, same traffic.

For each traffic shape, two FastAPI apps with the same templated routes are built in this process,
one instrumented by obs (``instrument(app, registry=CollectorRegistry(), ...)``, traces at 100 % to
a no-op exporter, so its OpenMetrics scrape carries exemplars as in production), one by the
instrumentator's defaults (``Instrumentator().instrument(app).expose(app)``, on a registry holding
what prometheus_client's global one holds). The same requests go through both: every (route,
method, status) combination of the shape, 500s by an unhandled exception, and unmatched URLs. Each
``/metrics`` is then scraped twice and the second scrape measured: a scraper has always scraped
before, and the instrumentator counts its own ``/metrics`` requests (obs does not measure it).

Counted: series (sample lines) and bytes (every line of the families counted, ``# HELP``/``# TYPE``
included), without the ``process_*``/``python_*`` families (runtime collectors, printed on their
own line). Both formats: the text format, and OpenMetrics with the ``Accept`` header Prometheus
sends. The instrumentator's endpoint serves only the text format, so its OpenMetrics figures are
its registry through prometheus_client's OpenMetrics encoder. obs exposes no ``_created`` series
for its own families; the instrumentator is as shipped (with them). The candidate rows re-observe
obs's measured requests into other designs (``candidate``), among them obs's design before issue 18
(``BEFORE_BUCKETS``, the histogram by status). It prints figures and ratios; nothing is timed::

    .venv/bin/python benchmarks/bench_metrics_size.py                  # shapes 'small' and 'issue'
    .venv/bin/python benchmarks/bench_metrics_size.py --shapes small --rounds 3
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import re
import sys
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from instrumentation import Instrumentation

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

#: What Prometheus 2.x sends: OpenMetrics first, the text format as the fallback.
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
TEXT_ACCEPT = "text/plain;version=0.0.4"
RUNTIME_PREFIXES = ("process_", "python_")
TARGET_RATIO = 2.0
OBS_DURATION = "http_server_request_duration_seconds"
#: The request counter's family (prometheus_client's name: without ``_total``) and sample name.
OBS_REQUESTS = "http_server_requests"
OBS_REQUESTS_TOTAL = f"{OBS_REQUESTS}_total"
INSTRUMENTATOR_DURATIONS = ("http_request_duration_seconds", "http_request_duration_highr_seconds")
#: URLs no route matches (scans, typos): one route value for all of them in either library.
UNMATCHED = (("GET", "/wp-login.php"), ("GET", "/.env"), ("POST", "/api/v0/debug"), ("GET", "/static/x.js"))
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LE = re.compile(r'le="([^"]*)"')


@dataclass(frozen=True)
class Shape:
    """The traffic: every (route, method, status) combination is answered, plus unmatched URLs."""

    name: str
    routes: int
    methods: tuple[str, ...]
    statuses: tuple[int, ...]

    @property
    def templates(self) -> list[str]:
        names = (
            "items",
            "users",
            "orders",
            "courses",
            "reports",
            "lessons",
            "grades",
            "files",
            "rooms",
            "events",
        )
        return [f"/api/{names[i % len(names)]}{i // len(names) or ''}/{{key}}" for i in range(self.routes)]

    def describe(self) -> str:
        return (
            f"{self.routes} templated routes x {', '.join(self.methods)} x statuses "
            f"{', '.join(map(str, self.statuses))}, and {len(UNMATCHED)} unmatched URLs"
        )


SHAPES = {
    # The brief: a small service, every route answering every method and status.
    "small": Shape("small", 5, ("GET", "POST", "DELETE"), (200, 404, 500)),
    # Issue 18's figures: 20 routes, 3 methods, 4 statuses.
    "issue": Shape("issue", 20, ("GET", "POST", "PUT"), (200, 400, 404, 500)),
}


def build_app(shape: Shape) -> Any:
    """The app both libraries instrument: the path's ``key`` picks the status (500 by raising)."""
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    app = FastAPI()
    statuses = shape.statuses

    async def answer(key: int) -> JSONResponse:
        status = statuses[key % len(statuses)]
        if status == 500:
            raise RuntimeError("store unavailable")  # an unhandled exception: both record a 500
        return JSONResponse({"key": key}, status_code=status)

    for template in shape.templates:
        app.add_api_route(template, answer, methods=list(shape.methods))
    return app


def traffic(shape: Shape, rounds: int) -> Iterator[tuple[str, str]]:
    """(method, path) pairs, the same on every run: every combination ``rounds`` times in turn,
    and an unmatched URL after every ninth and each once at the end."""
    combos = [(t, m, i) for t in shape.templates for m in shape.methods for i in range(len(shape.statuses))]
    for n in range(rounds * len(combos)):
        template, method, index = combos[n % len(combos)]
        key = index + len(shape.statuses) * (n % 97)
        yield method, template.replace("{key}", str(key))
        if n % 9 == 8:
            yield UNMATCHED[(n // 9) % len(UNMATCHED)]
    yield from UNMATCHED  # each at least once, however few the rounds


def instrument_obs(app: Any) -> Instrumentation:
    from prometheus_client import CollectorRegistry

    from benchmarks.bench_middleware import _noop_tracer_provider
    from instrumentation import instrument

    return instrument(
        app,
        service_name="bench",
        environment="bench",
        registry=CollectorRegistry(),
        tracer_provider=_noop_tracer_provider(),
        json_logs=False,
        access_log=False,
        trace_clients=False,  # the test client is httpx: no client spans around the benchmark's own calls
    )


def instrument_instrumentator(app: Any) -> Callable[[], bytes]:
    """The instrumentator's defaults, on a registry with what prometheus_client's global one holds
    (its process, platform and GC collectors: one per shape in one process); returns that registry
    through the OpenMetrics encoder."""
    from prometheus_client import GC_COLLECTOR, PLATFORM_COLLECTOR, PROCESS_COLLECTOR, CollectorRegistry
    from prometheus_client.openmetrics.exposition import generate_latest
    from prometheus_fastapi_instrumentator import Instrumentator

    registry = CollectorRegistry()
    for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        registry.register(collector)
    Instrumentator(registry=registry).instrument(app).expose(app)
    return lambda: generate_latest(registry)  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class Exposition:
    """One scrape's body, split into families (the names ``# TYPE`` declares)."""

    body: bytes

    def lines_by_family(self) -> dict[str, list[str]]:
        """family -> its lines (``# HELP``/``# TYPE`` included), in order."""
        out: dict[str, list[str]] = {}
        family = ""
        for line in self.body.decode().splitlines():
            if line.startswith(("# TYPE ", "# HELP ")):
                family = line.split(" ", 3)[2]
            elif line and not line.startswith("#"):
                match = _NAME.match(line)
                name = match.group(0) if match else ""
                if not name.startswith(family):  # a sample without its own # TYPE: its own family
                    family = name
            if line and line != "# EOF":
                out.setdefault(family, []).append(line)
        return out

    def families(self) -> dict[str, tuple[int, int, int]]:
        """family -> (series, ``_created`` series among them, bytes of all its lines)."""
        out = {}
        for family, lines in self.lines_by_family().items():
            samples = [_NAME.match(line) for line in lines if not line.startswith("#")]
            created = sum(1 for m in samples if m and m.group(0).endswith("_created"))
            out[family] = (len(samples), created, sum(len(line) + 1 for line in lines))
        return out

    def totals(self, runtime: bool = False) -> tuple[int, int]:
        """(series, bytes) of the application's families, or of the runtime ones."""
        picked = [v for k, v in self.families().items() if k.startswith(RUNTIME_PREFIXES) == runtime]
        return sum(v[0] for v in picked), sum(v[2] for v in picked)

    def buckets(self, family: str) -> list[float]:
        """The ``le`` boundaries of ``family``'s buckets, without +Inf."""
        bounds = {
            float(m.group(1))
            for line in self.body.decode().splitlines()
            if line.startswith(f"{family}_bucket") and (m := _LE.search(line)) and m.group(1) != "+Inf"
        }
        return sorted(bounds)

    def label_sets(self, family: str) -> int:
        return sum(1 for line in self.body.decode().splitlines() if line.startswith(f"{family}_count"))


@dataclass(frozen=True)
class Scrapes:
    text: Exposition
    openmetrics: Exposition
    openmetrics_served: bool

    @property
    def as_prometheus_scrapes(self) -> Exposition:
        """What Prometheus stores: OpenMetrics where the endpoint negotiates it, else the text format."""
        return self.openmetrics if self.openmetrics_served else self.text


def scrape(client: Any, encode_openmetrics: Callable[[], bytes] | None = None) -> Scrapes:
    """Both formats, from the second scrape of each (see the module's docstring)."""
    for _ in range(2):
        text = client.get("/metrics", headers={"Accept": TEXT_ACCEPT})
    negotiated = client.get("/metrics", headers={"Accept": PROMETHEUS_ACCEPT})
    served = negotiated.headers["content-type"].startswith("application/openmetrics-text")
    om = negotiated.content if served or encode_openmetrics is None else encode_openmetrics()
    return Scrapes(Exposition(text.content), Exposition(om), served)


def drive(client: Any, shape: Shape, rounds: int) -> Counter[int]:
    statuses: Counter[int] = Counter()
    for method, path in traffic(shape, rounds):
        statuses[client.request(method, path).status_code] += 1
    return statuses


def coarsest_step(bounds: list[float]) -> float:
    """The largest ratio between neighbouring boundaries: how far apart a quantile's two bounds
    can be, so how coarse any estimate inside the buckets' range is."""
    return max((b / a for a, b in itertools.pairwise(bounds)), default=math.inf)


def latency_thresholds() -> list[tuple[str, float]]:
    from obs.loader import load_project
    from obs.model import LatencySLI

    platform = load_project(Path(__file__).resolve().parent.parent / "edu_platform.py").platform
    return [
        (f"{service.name}/{slo.name}", float(slo.sli.threshold_seconds))
        for service in platform.services
        for slo in service.slos
        if isinstance(slo.sli, LatencySLI)
    ]


def ratio_row(label: str, obs: int, other: int) -> str:
    return f"| {label} | {obs:,} | {other:,} | {obs / other:.2f} |"


def size_rows(title: str, obs: Scrapes, other: Scrapes) -> list[str]:
    (ts, tb), (us, ub) = obs.text.totals(), other.text.totals()
    (os_, ob), (vs, vb) = obs.openmetrics.totals(), other.openmetrics.totals()
    pb, qb = obs.as_prometheus_scrapes.totals()[1], other.as_prometheus_scrapes.totals()[1]
    return [
        ratio_row(f"{title}: series, text format", ts, us),
        ratio_row(f"{title}: bytes, text format", tb, ub),
        ratio_row(f"{title}: series, OpenMetrics", os_, vs),
        ratio_row(f"{title}: bytes, OpenMetrics", ob, vb),
        ratio_row(f"{title}: bytes, as Prometheus negotiates each", pb, qb),
    ]


def ratios(obs: Scrapes, other: Scrapes) -> list[float]:
    pairs = ((obs.text, other.text), (obs.openmetrics, other.openmetrics))
    return [a.totals()[i] / b.totals()[i] for a, b in pairs for i in (0, 1)]


@dataclass(frozen=True)
class BucketBudget:
    """The most duration buckets (without +Inf) obs could have with its series, and its bytes, at
    TARGET_RATIO of the other's, everything else as measured (bytes: at the measured mean length
    of one of its bucket lines)."""

    series: int
    bytes: int


def bucket_budget(obs: Exposition, other: Exposition) -> BucketBudget:
    lines = [line for line in obs.body.decode().splitlines() if line.startswith(f"{OBS_DURATION}_bucket")]
    finite = [line for line in lines if 'le="+Inf"' not in line]
    sets, buckets = obs.label_sets(OBS_DURATION), len(obs.buckets(OBS_DURATION))
    (series, size), (other_series, other_size) = obs.totals(), other.totals()
    mean_line = sum(len(line) + 1 for line in finite) / len(finite)
    series_rest = series - sets * buckets
    bytes_rest = size - sum(len(line) + 1 for line in finite)
    return BucketBudget(
        series=math.floor((TARGET_RATIO * other_series - series_rest) / sets),
        bytes=math.floor((TARGET_RATIO * other_size - bytes_rest) / (sets * mean_line)),
    )


#: obs's duration buckets before issue 18 (with the histogram by method, route and status).
BEFORE_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5,
    0.75, 1.0, 1.5, 2.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip
#: The 9 bounds measured before choosing: every typical SLO threshold, one under, two over.
NINE_BUCKETS: tuple[float, ...] = (0.05, 0.1, 0.25, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0)
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def candidate(obs: Exposition, buckets: tuple[float, ...], status_on_histogram: bool) -> Exposition:
    """obs's text exposition as another design gives it for the same requests, ``_created`` off:
    the duration histogram with ``buckets``, by method, route and status (no request counter); or
    by method and route beside the request counter by method, route and status (obs's design).
    Each (method, route, status) is observed as often as obs's counter counted, at the mean
    duration of its method and route; the other families are obs's own lines."""
    from prometheus_client import (
        CollectorRegistry,
        Histogram,
        disable_created_metrics,
        enable_created_metrics,
    )
    from prometheus_client import Counter as PromCounter
    from prometheus_client.exposition import generate_latest

    from obs.contract import (
        HTTP_SERVER_DURATION,
        HTTP_SERVER_REQUESTS,
        METHOD_LABEL,
        ROUTE_LABEL,
        STATUS_LABEL,
    )

    registry = CollectorRegistry()
    by_route = [METHOD_LABEL, ROUTE_LABEL]
    by_status = [*by_route, STATUS_LABEL]
    histogram_labels = by_status if status_on_histogram else by_route
    histogram = Histogram(
        OBS_DURATION, HTTP_SERVER_DURATION.help, histogram_labels, buckets=buckets, registry=registry
    )
    requests = (
        None
        if status_on_histogram
        else PromCounter(OBS_REQUESTS, HTTP_SERVER_REQUESTS.help, by_status, registry=registry)
    )
    lines = obs.lines_by_family()

    def route_of(line: str) -> tuple[str, ...]:
        labels = dict(_LABEL.findall(line.split("{", 1)[1]))
        return tuple(labels[k] for k in by_route)

    def value(line: str) -> float:
        return float(line.rsplit(" ", 1)[1])

    samples = [ln for ln in lines[OBS_DURATION] if not ln.startswith("#")]
    sums = {route_of(ln): value(ln) for ln in samples if ln.startswith(f"{OBS_DURATION}_sum")}
    counts = {route_of(ln): value(ln) for ln in samples if ln.startswith(f"{OBS_DURATION}_count")}
    counted = (OBS_REQUESTS, OBS_REQUESTS_TOTAL)  # the family's name in OpenMetrics, in the text format
    for line in (ln for family in counted for ln in lines.get(family, [])):
        if not line.startswith(OBS_REQUESTS_TOTAL):
            continue
        labels = dict(_LABEL.findall(line.split("{", 1)[1]))
        count, route = int(value(line)), route_of(line)
        mean = sums[route] / max(counts[route], 1)
        child = histogram.labels(*(labels[k] for k in histogram_labels))
        for _ in range(count):
            child.observe(mean)
        if requests is not None:
            requests.labels(*(labels[k] for k in by_status)).inc(count)
    disable_created_metrics()  # type: ignore[no-untyped-call]
    try:
        body = generate_latest(registry)
    finally:
        enable_created_metrics()  # type: ignore[no-untyped-call]
    rest = [ln for family, fl in lines.items() if family not in (OBS_DURATION, *counted) for ln in fl]
    return Exposition(body + "".join(f"{ln}\n" for ln in rest).encode())


def exemplars(exposition: Exposition) -> int:
    return sum(1 for line in exposition.body.decode().splitlines() if " # {" in line)


def with_every_exemplar(openmetrics: Exposition) -> int:
    """obs's OpenMetrics bytes if every bucket line of the duration histogram carried an exemplar
    (each keeps the newest of its bucket, so a long-running service fills them), at the measured
    mean exemplar length."""
    lines = [ln for ln in openmetrics.body.decode().splitlines() if ln.startswith(f"{OBS_DURATION}_bucket")]
    tails = [len(ln.split(" # ", 1)[1]) + 3 for ln in lines if " # {" in ln]
    missing = sum(1 for ln in lines if " # {" not in ln)
    return openmetrics.totals()[1] + round(missing * sum(tails) / max(len(tails), 1))


@dataclass(frozen=True)
class Measured:
    shape: Shape
    statuses: Counter[int]
    obs: Scrapes
    other: Scrapes


def measure(shape: Shape, rounds: int) -> Measured:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
        from starlette.testclient import TestClient

    obs_app, other_app = build_app(shape), build_app(shape)
    state = instrument_obs(obs_app)
    encode_other = instrument_instrumentator(other_app)
    try:
        with (
            TestClient(obs_app, raise_server_exceptions=False) as obs_client,
            TestClient(other_app, raise_server_exceptions=False) as other_client,
        ):
            statuses, other_statuses = drive(obs_client, shape, rounds), drive(other_client, shape, rounds)
            if statuses != other_statuses:
                raise SystemExit(
                    f"the two apps answered differently: {dict(statuses)} != {dict(other_statuses)}"
                )
            return Measured(shape, statuses, scrape(obs_client), scrape(other_client, encode_other))
    finally:
        from instrumentation import uninstrument

        uninstrument(obs_app)
        if state.tracer_provider is not None:
            state.tracer_provider.shutdown()  # type: ignore[attr-defined]  # the SDK provider's batch thread


def print_sizes(m: Measured) -> None:
    obs, other = m.obs, m.other
    spread = ", ".join(f"{n:,} x {s}" for s, n in sorted(m.statuses.items()))
    print(
        f"## traffic '{m.shape.name}': {m.shape.describe()}: {m.statuses.total():,} requests per app ({spread})"
    )
    print(
        f"OpenMetrics served: obs {obs.openmetrics_served}, instrumentator {other.openmetrics_served} "
        f"(then its registry through prometheus_client's OpenMetrics encoder); exemplars in obs's: "
        f"{exemplars(obs.openmetrics)}\n"
    )
    print("| /metrics, without process_*/python_* | obs | instrumentator | obs / instrumentator |")
    print("|---|---:|---:|---:|")
    print("\n".join(size_rows("as shipped", obs, other)))
    full = with_every_exemplar(obs.openmetrics)
    print(
        ratio_row(
            "bytes, OpenMetrics, if every obs bucket carried an exemplar", full, other.openmetrics.totals()[1]
        )
    )
    (ro, rob), (ri, rib) = obs.text.totals(runtime=True), other.text.totals(runtime=True)
    print(
        f"| process_*/python_* series (bytes), text format, not counted above | {ro} ({rob:,}) | {ri} ({rib:,}) | |"
    )

    print("\nwhat the series are (text format, as shipped): family series (of which `_created`)")
    for name, scrapes in (("obs", obs), ("instrumentator", other)):
        fams = sorted(scrapes.text.families().items(), key=lambda kv: -kv[1][0])
        shown = [f"{k} {s} ({c})" for k, (s, c, _) in fams if not k.startswith(RUNTIME_PREFIXES)]
        print(f"  {name}: " + "; ".join(shown))

    now = len(obs.text.buckets(OBS_DURATION))
    print(
        f"\nobs duration buckets (without +Inf, now {now}) that keep obs within {TARGET_RATIO:g}x, the rest as measured:"
    )
    for fmt, a, b in (("text", obs.text, other.text), ("OpenMetrics", obs.openmetrics, other.openmetrics)):
        budget = bucket_budget(a, b)
        print(f"  {fmt}: series {budget.series}, bytes {budget.bytes}")
    print_candidates(obs.text, other.text)
    worst = max(ratios(obs, other))
    verdict = "met" if worst <= TARGET_RATIO else "not met"
    print(
        f"target (obs at most {TARGET_RATIO:g}x the instrumentator's series and bytes, both formats): "
        f"{verdict} (largest ratio {worst:.2f})"
    )


def print_candidates(obs: Exposition, other: Exposition) -> None:
    """Text-format series and bytes of candidate designs for the same requests (see ``candidate``)."""
    (other_series, other_bytes), now = other.totals(), tuple(obs.buckets(OBS_DURATION))
    print("\n| candidate, text format, `_created` off | series | bytes | series ratio | bytes ratio |")
    print("|---|---:|---:|---:|---:|")
    for buckets in (BEFORE_BUCKETS, NINE_BUCKETS, now):
        for status_on_histogram in (True, False):
            design = (
                "histogram by method, route, status"
                if status_on_histogram
                else "histogram by method, route + requests counter by status"
            )
            series, size = candidate(obs, buckets, status_on_histogram).totals()
            print(
                f"| {len(buckets)} buckets ({', '.join(f'{b:g}' for b in buckets)}), {design} | {series:,} | "
                f"{size:,} | {series / other_series:.2f} | {size / other_bytes:.2f} |"
            )


def print_histograms(m: Measured) -> None:
    from obs.contract import SLO_THRESHOLDS_SECONDS

    print(f"## latency histograms (traffic '{m.shape.name}')\n")
    print("| latency histogram | label sets | buckets (le, without +Inf) | coarsest step |")
    print("|---|---:|---|---:|")
    histograms = [("obs", OBS_DURATION, m.obs.text)] + [
        ("instrumentator", f, m.other.text) for f in INSTRUMENTATOR_DURATIONS
    ]
    for who, family, exposition in histograms:
        bounds = exposition.buckets(family)
        shown = ", ".join(f"{b:g}" for b in bounds)
        print(
            f"| {who} `{family}` | {exposition.label_sets(family)} | {shown} | {coarsest_step(bounds):.2g}x |"
        )

    print(
        "\n| latency SLO threshold | s | "
        + " | ".join(f"exact `le` in `{f}`" for _, f, _ in histograms)
        + " |"
    )
    print("|---|---:|" + "---|" * len(histograms))
    typical = [(f"obs.contract.SLO_THRESHOLDS_SECONDS[{i}]", t) for i, t in enumerate(SLO_THRESHOLDS_SECONDS)]
    for name, threshold in [(f"edu_platform.py {n}", t) for n, t in latency_thresholds()] + typical:
        marks = ["yes" if threshold in e.buckets(f) else "no" for _, f, e in histograms]
        print(f"| {name} | {threshold:g} | " + " | ".join(marks) + " |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--shapes", default=",".join(SHAPES), help=f"traffic shapes, of {', '.join(SHAPES)}")
    parser.add_argument(
        "--rounds", type=int, default=10, help="times each (route, method, status) is answered"
    )
    args = parser.parse_args(argv)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        parser.error(
            "PROMETHEUS_MULTIPROC_DIR is set: unset it (this benchmark measures one process's registry)"
        )
    names = [n.strip() for n in args.shapes.split(",") if n.strip()]
    unknown = [n for n in names if n not in SHAPES]
    if unknown or not names:
        parser.error(f"--shapes {args.shapes!r}: pick from {', '.join(SHAPES)}")
    measured = [measure(SHAPES[n], args.rounds) for n in names]
    for m in measured:
        print_sizes(m)
        print()
    print_histograms(measured[0])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
