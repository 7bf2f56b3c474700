"""Rule evaluation, side by side: obs's SLO rules and Sloth-style rules for the same SLOs, in two
real Prometheus servers over the same backfilled history, measured in the same run.

    .venv/bin/python benchmarks/bench_rule_eval.py                  # 200 SLOs, 3 days of history
    .venv/bin/python benchmarks/bench_rule_eval.py --slos 20 --days 1 --seconds 60

What it does:

1. A platform of ``slos / 2`` services, each with an availability SLO (99.9%) and a latency SLO
   (99% within 0.3 s), each service exposing 8 request series (2 routes, 2 statuses, ``_count``
   and the 0.3 s ``_bucket``).
2. History: ``days`` of those series at 1-minute resolution, written as OpenMetrics in 2-hour
   files and turned into TSDB blocks by ``promtool tsdb create-blocks-from openmetrics``, plus
   the history of the recordings each rule set's long windows read (obs: the 5m slices of bad and
   total requests; Sloth: its 5m error ratio, which its 30d window averages).
3. Two Prometheus servers, one per rule set, each on its own copy of those blocks, scraping the
   same exporter that continues the counters. Both evaluate their rules for ``seconds`` at the
   intervals the rules ask for, divided by ``speedup`` (obs: the environment's 30 s, and 2 m for
   the long windows; Sloth: 30 s for everything), concurrently, so both see the same machine.
4. Figures per rule set: rules (recording and alerting); recorded series; samples read per
   evaluation of every rule (the query API's ``stats=all``: ``totalQueryableSamples``) and per
   hour at the production intervals; the rule-evaluation CPU: the server's CPU over the run less
   that of a third server on the same blocks, scraping the same exporter, with no rules, per hour
   at the production pace. (Prometheus' own group timings are not used: under load they include
   the wait for the query engine, which is not work.)

The Sloth-style rules follow Sloth's generated form (``examples/_gen`` of github.com/slok/sloth):
per SLO, ``slo:sli_error:ratio_rate<w>`` from the raw counters for each of the 7 alert windows,
the 30d ratio as the mean of the 5m ratio, 7 metadata series (``slo:objective:ratio``,
``slo:error_budget:ratio``, ``slo:time_period:days``, ``slo:current_burn_rate:ratio``,
``slo:period_burn_rate:ratio``, ``slo:period_error_budget_remaining:ratio``, ``sloth_slo_info``)
and a page and a ticket alert joining two windows each; written here from that description.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from obs.catalogue.alerts.slo import slo_rule_file  # noqa: E402
from obs.model import SLO, AvailabilitySLI, Environment, LatencySLI, Platform, Service, Team, parse_duration  # noqa: E402
from obs.runtime import Supervisor, free_port, start_prometheus, wait_until  # noqa: E402
from obs.slo import firing_windows  # noqa: E402

REQUESTS = "http_server_requests_total"
COUNT = "http_server_request_duration_seconds_count"
BUCKET = "http_server_request_duration_seconds_bucket"
ROUTES = ("/api/a", "/api/b")
STATUSES = ("200", "500")
#: Requests per second per route and status, and the share of slow requests.
RATES = {"200": 4.98, "500": 0.02}
SLOW_SHARE = 0.004
RESOLUTION = 60
BLOCK = 7200
PRODUCTION_INTERVAL = "30s"
SLOTH_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")


# --- the platform and the traffic -------------------------------------------------------------------


def bench_platform(slos: int) -> Platform:
    services = tuple(
        Service(
            name=f"svc{i:03d}", kind="fastapi", team=f"team{i % 10}", tier=1, port=8000,  # type: ignore[arg-type]
            slos=(SLO("availability", AvailabilitySLI(), 0.999), SLO("latency", LatencySLI(threshold_seconds=0.3), 0.99)),
        )
        for i in range(max(1, slos // 2))
    )  # fmt: skip
    return Platform(
        name="bench", services=services, environments=(Environment("prod", scrape_interval=PRODUCTION_INTERVAL),),
        teams=tuple(Team(f"team{i}") for i in range(10)), runbook_base_url="https://runbooks.example.org", infra_team="team0",
    )  # fmt: skip


def raw_series(platform: Platform) -> list[tuple[str, str, float]]:
    """(metric, labels, requests per second) of every raw series: the request counter by route and
    status, the duration histogram's count and 0.3 s bucket by route."""
    out = []
    for s in platform.services:
        for route in ROUTES:
            labels = (
                f'service="{s.name}",team="{s.team}",job="{s.name}",instance="{s.name}:8000",'
                f'http_request_method="GET",http_route="{route}"'
            )
            for status in STATUSES:
                out.append((REQUESTS, f'{labels},http_response_status_code="{status}"', RATES[status]))
            per_route = sum(RATES.values())
            out.append((COUNT, labels, per_route))
            out.append((BUCKET, labels + ',le="0.3"', per_route * (1 - SLOW_SHARE)))
    return out


def _slo_rates(platform: Platform) -> list[tuple[Service, SLO, float, float]]:
    """(service, SLO, total requests/s, bad requests/s) of every SLO."""
    total = sum(RATES.values()) * len(ROUTES)
    out = []
    for s in platform.services:
        for slo in s.slos:
            bad = RATES["500"] * len(ROUTES) if isinstance(slo.sli, AvailabilitySLI) else total * SLOW_SHARE
            out.append((s, slo, total, bad))
    return out


def _openmetrics(path: Path, families: Mapping[str, list[tuple[str, list[tuple[int, float]]]]]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for name, series in families.items():
            out.write(f"# TYPE {name} unknown\n")
            for labels, samples in series:
                out.writelines(f"{name}{{{labels}}} {value:.6f} {t}\n" for t, value in samples)
        out.write("# EOF\n")


def backfill(platform: Platform, start: int, end: int, folder: Path, kind: str) -> Path:
    """TSDB blocks of the raw series (``kind`` "raw"), or of the recordings a rule set's long
    windows read ("obs", "sloth"), from ``start`` to ``end`` at 1-minute resolution."""
    blocks = folder / f"blocks-{kind}"
    blocks.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=folder))
    for lo in range(start - start % BLOCK, end, BLOCK):
        times = [t for t in range(max(lo, start), min(lo + BLOCK, end), RESOLUTION)]
        if not times:
            continue
        families: dict[str, list[tuple[str, list[tuple[int, float]]]]] = {}
        if kind == "raw":
            for metric, labels, rate in raw_series(platform):
                families.setdefault(metric, []).append((labels, [(t, rate * (t - start)) for t in times]))
        for s, slo, total, bad in _slo_rates(platform):
            if kind == "obs":
                labels = f'service="{s.name}",slo="{slo.name}",team="{s.team}"'
                families.setdefault("slo:sli_total:rate5m", []).append((labels, [(t, total) for t in times]))
                families.setdefault("slo:sli_errors:rate5m", []).append((labels, [(t, bad) for t in times]))
            elif kind == "sloth":
                labels = _sloth_labels(s, slo) + ',sloth_window="5m"'
                families.setdefault("slo:sli_error:ratio_rate5m", []).append((labels, [(t, bad / total) for t in times]))
        path = work / f"{lo}.om"
        _openmetrics(path, families)
        subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", "-q", str(path), str(blocks)], check=True, capture_output=True)
        path.unlink()
    shutil.rmtree(work)
    return blocks


class _Exporter(BaseHTTPRequestHandler):
    """The same counters, continued: the value at now of each raw series."""

    series: ClassVar[list[tuple[str, str, float]]] = []
    start: ClassVar[float] = 0.0

    def do_GET(self) -> None:
        now = time.time()
        body = "".join(f"{m}{{{labels}}} {rate * (now - self.start):.6f}\n" for m, labels, rate in self.series).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


# --- the rule sets ------------------------------------------------------------------------------------


def obs_rules(platform: Platform, speedup: float) -> dict[str, Any]:
    env = platform.environments[0]
    groups = []
    for s in platform.services:
        for slo in s.slos:
            for group in slo_rule_file(platform, env, s, slo).groups:
                interval = group.get("interval", PRODUCTION_INTERVAL)
                groups.append({**group, "interval": _scaled(interval, speedup)})
    return {"groups": groups}


def _sloth_labels(s: Service, slo: SLO) -> str:
    return f'sloth_id="{s.name}-{slo.name}",sloth_service="{s.name}",sloth_slo="{slo.name}"'


def sloth_rules(platform: Platform, speedup: float) -> dict[str, Any]:
    """Sloth's generated form for the same SLOs (see the module docstring)."""
    groups = []
    for s in platform.services:
        for slo in s.slos:
            sid = {"sloth_id": f"{s.name}-{slo.name}", "sloth_service": s.name, "sloth_slo": slo.name}
            sel = "{" + ", ".join(f'{k}="{v}"' for k, v in sid.items()) + "}"
            latency = isinstance(slo.sli, LatencySLI)
            # The raw series obs's rules read: the histogram for latency, the counter for availability.
            total = f'{COUNT if latency else REQUESTS}{{service="{s.name}"}}'
            good = f'{BUCKET}{{service="{s.name}", le="0.3"}}'
            bad = f'{REQUESTS}{{service="{s.name}", http_response_status_code=~"5.."}}'

            def errors(w: str, total: str = total, good: str = good, bad: str = bad, latency: bool = latency) -> str:
                return f"sum(rate({total}[{w}])) - sum(rate({good}[{w}]))" if latency else f"sum(rate({bad}[{w}]))"

            sli = [
                {"record": f"slo:sli_error:ratio_rate{w}", "expr": f"({errors(w)})\n/\n(sum(rate({total}[{w}])))", "labels": {**sid, "sloth_window": w}}
                for w in SLOTH_WINDOWS
            ]
            budget = round(1 - slo.objective, 12)
            sli.append({
                "record": "slo:sli_error:ratio_rate30d",
                "expr": f"sum_over_time(slo:sli_error:ratio_rate5m{sel}[30d])\n/ ignoring (sloth_window)\ncount_over_time(slo:sli_error:ratio_rate5m{sel}[30d])",
                "labels": {**sid, "sloth_window": "30d"},
            })  # fmt: skip
            meta = [
                {"record": "slo:objective:ratio", "expr": f"vector({slo.objective})", "labels": sid},
                {"record": "slo:error_budget:ratio", "expr": f"vector(1-{slo.objective})", "labels": sid},
                {"record": "slo:time_period:days", "expr": "vector(30)", "labels": sid},
                {"record": "slo:current_burn_rate:ratio", "expr": f"slo:sli_error:ratio_rate5m{sel}\n/ on(sloth_id, sloth_slo, sloth_service) group_left\nslo:error_budget:ratio{sel}", "labels": sid},
                {"record": "slo:period_burn_rate:ratio", "expr": f"slo:sli_error:ratio_rate30d{sel}\n/ on(sloth_id, sloth_slo, sloth_service) group_left\nslo:error_budget:ratio{sel}", "labels": sid},
                {"record": "slo:period_error_budget_remaining:ratio", "expr": f"1 - slo:period_burn_rate:ratio{sel}", "labels": sid},
                {"record": "sloth_slo_info", "expr": "vector(1)", "labels": {**sid, "sloth_objective": str(slo.objective * 100)}},
            ]  # fmt: skip
            rows = firing_windows(slo)

            def cond(a: Any, b: Any, sel: str = sel, budget: float = budget) -> str:
                return (
                    f"(\n    max(slo:sli_error:ratio_rate{a.short_window}{sel} > ({a.factor} * {budget})) without (sloth_window)\n"
                    f"    and\n    max(slo:sli_error:ratio_rate{a.long_window}{sel} > ({a.factor} * {budget})) without (sloth_window)\n)\n"
                    f"or\n(\n    max(slo:sli_error:ratio_rate{b.short_window}{sel} > ({b.factor} * {budget})) without (sloth_window)\n"
                    f"    and\n    max(slo:sli_error:ratio_rate{b.long_window}{sel} > ({b.factor} * {budget})) without (sloth_window)\n)"
                )

            alerts = [
                {"alert": "SLOBurn", "expr": cond(rows[0], rows[1]), "labels": {"sloth_severity": "page"}},
                {"alert": "SLOBurn", "expr": cond(rows[2], rows[3]), "labels": {"sloth_severity": "ticket"}},
            ]
            groups += [
                {"name": f"sloth-slo-sli-recordings-{s.name}-{slo.name}", "interval": _scaled(PRODUCTION_INTERVAL, speedup), "rules": sli},
                {"name": f"sloth-slo-meta-recordings-{s.name}-{slo.name}", "interval": _scaled(PRODUCTION_INTERVAL, speedup), "rules": meta},
                {"name": f"sloth-slo-alerts-{s.name}-{slo.name}", "interval": _scaled(PRODUCTION_INTERVAL, speedup), "rules": alerts},
            ]
    return {"groups": groups}


def _scaled(interval: str, speedup: float) -> str:
    return f"{max(1, round(parse_duration(interval) / speedup))}s"


# --- measuring -----------------------------------------------------------------------------------------


@dataclass
class RuleSetFigures:
    """The figures of one rule set, for all the SLOs."""

    name: str
    recording_rules: int = 0
    alerting_rules: int = 0
    recorded_series: int = 0
    #: Samples every rule reads at one evaluation, summed over the rules.
    samples_per_evaluation: int = 0
    #: Samples read per hour at the production intervals.
    samples_per_hour: float = 0.0
    #: CPU seconds of the server during the run, less the CPU of the same server without rules.
    rule_cpu_seconds: float = 0.0
    #: That, per hour at the production pace.
    rule_cpu_seconds_per_hour: float = 0.0

    @property
    def rules(self) -> int:
        return self.recording_rules + self.alerting_rules


@dataclass
class RuleEvalFigures:
    slos: int
    days: float
    seconds: float
    speedup: float
    obs: RuleSetFigures
    sloth: RuleSetFigures

    def ratio(self, attr: str) -> float:
        theirs = getattr(self.sloth, attr)
        return getattr(self.obs, attr) / theirs if theirs else math.nan


def _get(url: str, path: str, params: Mapping[str, str]) -> Any:
    with urllib.request.urlopen(f"{url}{path}?{urllib.parse.urlencode(params)}", timeout=120) as response:
        return json.loads(response.read())["data"]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _samples(url: str, rules: Mapping[str, Any], at: float) -> dict[str, int]:
    """Samples read by one evaluation of each group (its rules' queries with ``stats=all``)."""
    out = {}
    for group in rules["groups"]:
        total = 0
        for rule in group["rules"]:
            data = _get(url, "/api/v1/query", {"query": rule["expr"], "time": f"{at:.3f}", "stats": "all"})
            total += int(data["stats"]["samples"]["totalQueryableSamples"])
        out[group["name"]] = total
    return out


def _evaluations_per_hour(group: Mapping[str, Any], speedup: float) -> float:
    """At the production interval: the group's here, times the speed-up."""
    return 3600 / (parse_duration(group["interval"]) * speedup)


def measure(slos: int = 200, days: float = 3.0, seconds: float = 180.0, speedup: float = 10.0, workdir: Path | None = None) -> RuleEvalFigures:
    """Both rule sets over the same history in two real Prometheus servers, side by side."""
    platform = bench_platform(slos)
    folder = Path(workdir or tempfile.mkdtemp(prefix="obs-rule-eval-"))
    now = int(time.time())
    end = now - now % RESOLUTION
    start = end - int(days * 86400)
    raw = backfill(platform, start, end, folder, "raw")
    sets = {"obs": obs_rules(platform, speedup), "sloth": sloth_rules(platform, speedup), "none": {"groups": []}}
    exporter_port = free_port()
    _Exporter.series, _Exporter.start = raw_series(platform), float(start)
    server = ThreadingHTTPServer(("127.0.0.1", exporter_port), _Exporter)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    figures = {name: RuleSetFigures(name) for name in sets if name != "none"}
    try:
        with Supervisor(folder / "run") as sup:
            servers = {}
            for name, rules in sets.items():
                data = sup.data_dir(f"prometheus-{name}") / "tsdb"
                shutil.copytree(raw, data)
                if name != "none":
                    for block in backfill(platform, start, end, folder, name).iterdir():
                        shutil.copytree(block, data / block.name)
                (folder / f"{name}.rules.yml").write_text(yaml.safe_dump(rules, sort_keys=False))
                config = {
                    "global": {"scrape_interval": f"{RESOLUTION}s", "evaluation_interval": _scaled(PRODUCTION_INTERVAL, speedup)},
                    "rule_files": [str(folder / f"{name}.rules.yml")],
                    "scrape_configs": [{"job_name": "exporter", "honor_labels": True, "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"]}]}],
                }
                (folder / f"{name}.yml").write_text(yaml.safe_dump(config))
                servers[name] = start_prometheus(sup, folder / f"{name}.yml", name=f"prometheus-{name}", retention="60d", log_level="error", timeout=300)
            for name, srv in servers.items():
                wait_until(partial(_scraping, srv.url), timeout=60, what=f"{name} scraping")
            time.sleep(max(_evaluations_seconds(sets, speedup), 5))
            cpu0 = {n: _cpu_seconds(s.process.pid) for n, s in servers.items()}
            time.sleep(seconds)
            cpu1 = {n: _cpu_seconds(s.process.pid) for n, s in servers.items()}
            at = time.time()
            baseline = cpu1["none"] - cpu0["none"]
            for name, fig in figures.items():
                srv, rules = servers[name], sets[name]
                fig.rule_cpu_seconds = cpu1[name] - cpu0[name] - baseline
                fig.rule_cpu_seconds_per_hour = fig.rule_cpu_seconds / seconds * 3600 / speedup
                fig.recording_rules = sum(1 for g in rules["groups"] for r in g["rules"] if "record" in r)
                fig.alerting_rules = sum(1 for g in rules["groups"] for r in g["rules"] if "alert" in r)
                query = 'count(last_over_time({__name__=~"slo:.+|sloth_slo_info"}[1m]))'
                result = _get(srv.url, "/api/v1/query", {"query": query})["result"]
                fig.recorded_series = int(float(result[0]["value"][1])) if result else 0
                samples = _samples(srv.url, rules, at)
                for group in rules["groups"]:
                    fig.samples_per_evaluation += samples[group["name"]]
                    fig.samples_per_hour += samples[group["name"]] * _evaluations_per_hour(group, speedup)
    finally:
        server.shutdown()
        server.server_close()
        if workdir is None:
            shutil.rmtree(folder, ignore_errors=True)
    return RuleEvalFigures(slos=2 * len(platform.services), days=days, seconds=seconds, speedup=speedup, obs=figures["obs"], sloth=figures["sloth"])


def _scraping(url: str) -> bool:
    return bool(_get(url, "/api/v1/query", {"query": "count(up == 1)"})["result"])


def _evaluations_seconds(sets: Mapping[str, Mapping[str, Any]], speedup: float) -> float:
    """Long enough for every group to have evaluated twice."""
    longest = max((parse_duration(g["interval"]) for rules in sets.values() for g in rules["groups"]), default=1)
    return 2.5 * longest


def table(fig: RuleEvalFigures) -> str:
    rows = [
        ("rules (recording + alerting)", "rules", "{:,}"),
        ("recorded series", "recorded_series", "{:,}"),
        ("samples read per evaluation of every rule", "samples_per_evaluation", "{:,}"),
        ("samples read per hour (30 s, and 2 m for obs's long windows)", "samples_per_hour", "{:,.0f}"),
        ("rule-evaluation CPU per hour at the production pace, s", "rule_cpu_seconds_per_hour", "{:,.0f}"),
        (f"(measured: server CPU less a server without rules, {fig.seconds:g} s at {fig.speedup:g}x the pace, s)", "rule_cpu_seconds", "{:,.1f}"),
    ]
    lines = [
        f"{fig.slos} SLOs ({fig.slos // 2} services, an availability and a latency SLO each), {fig.days:g} days of history "
        f"at 1-minute resolution, both servers side by side on {os.cpu_count()} cores.",
        "",
        "| | obs | Sloth-style | obs / Sloth |",
        "|---|---:|---:|---:|",
    ]
    for label, attr, fmt in rows:
        lines.append(f"| {label} | {fmt.format(getattr(fig.obs, attr))} | {fmt.format(getattr(fig.sloth, attr))} | {fig.ratio(attr):.2f} |")
    return "\n".join(lines)


def report() -> str:
    """The table for ``benchmarks/bench_scale.py``: 200 SLOs over 3 days."""
    return table(measure())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slos", type=int, default=200, help="SLOs (two per service; default: %(default)s)")
    parser.add_argument("--days", type=float, default=3.0, help="days of backfilled history (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=180.0, help="measured run (default: %(default)s)")
    parser.add_argument("--speedup", type=float, default=10.0, help="rules evaluated this many times faster than in production (default: %(default)s)")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args(argv)
    for binary in ("prometheus", "promtool"):
        if shutil.which(binary) is None:
            print(f"{binary} not found: apt-get install -y prometheus", file=sys.stderr)
            return 4
    started = time.monotonic()
    fig = measure(args.slos, args.days, args.seconds, args.speedup, args.keep)
    print(table(fig))
    print(f"\n(measured in {time.monotonic() - started:.0f} s)")
    return 0


__all__ = ["RuleEvalFigures", "RuleSetFigures", "main", "measure", "obs_rules", "report", "sloth_rules", "table"]

if __name__ == "__main__":
    raise SystemExit(main())
