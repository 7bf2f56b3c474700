"""Check scrape jobs that use ``kubernetes_sd_configs`` with a tool that knows them.

Debian 12's ``prometheus`` 2.42.0+ds and its ``promtool`` are built without Kubernetes discovery:
``promtool check config`` rejects such a job ("field kubernetes_sd_configs not found in type
config.ScrapeConfig"), and so would that Prometheus. The scraper of VictoriaMetrics (``vmagent``,
Debian ``victoria-metrics``) implements the same discovery and relabeling and checks a
configuration strictly without running it (``-promscrape.config.dryRun``); it reads only the
scrape part, so that part is what it is given.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from obs.artifacts import Outcome
from obs.runtime.binaries import BinaryNotFoundError, find_binary

CHECK_NAME = "vmagent -promscrape.config.dryRun"
# The global settings the scraper reads; the rest of prometheus.yml (rules, alerting) is not its business.
_SCRAPE_GLOBALS = ("scrape_interval", "scrape_timeout", "external_labels")


def scrape_part(config: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a prometheus.yml a scraper reads: ``scrape_configs`` and their global defaults."""
    settings = config.get("global") or {}
    return {"global": {k: settings[k] for k in _SCRAPE_GLOBALS if k in settings}, "scrape_configs": list(config.get("scrape_configs") or [])}


def uses_kubernetes_discovery(config: Mapping[str, Any]) -> bool:
    return any(job.get("kubernetes_sd_configs") for job in config.get("scrape_configs") or [])


def vmagent_error(output: str) -> str:
    """vmagent's complaint in one line, without its log prefixes."""
    text = output.split("error when checking -promscrape.config: ", 1)[-1]
    return " ".join(text.replace("; pass -promscrape.config.strictParse=false command-line flag for ignoring unknown fields in yaml config", "").split())


def check_scrape_configs(config: Mapping[str, Any], *, timeout: float = 30) -> Outcome:
    """Parse the scrape jobs of ``config`` (a prometheus.yml as data) strictly with vmagent."""
    try:
        vmagent = find_binary("vmagent")
    except BinaryNotFoundError as exc:
        return Outcome(CHECK_NAME, "skipped", f"skipped: {exc}")
    with tempfile.TemporaryDirectory(prefix="obs-vmagent-") as folder:
        path = Path(folder) / "scrape.yml"
        path.write_text(yaml.safe_dump(scrape_part(config), sort_keys=True))
        try:
            proc = subprocess.run(
                [*vmagent, f"-promscrape.config={path}", "-promscrape.config.dryRun", "-loggerLevel=ERROR"],
                capture_output=True, text=True, timeout=timeout,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return Outcome(CHECK_NAME, "failed", f"vmagent timed out after {timeout:g} s")
        except OSError as exc:
            return Outcome(CHECK_NAME, "failed", f"cannot run {vmagent[0]}: {exc}")
    if proc.returncode != 0:
        return Outcome(CHECK_NAME, "failed", vmagent_error(proc.stderr or proc.stdout).replace(str(path), "scrape_configs"))
    return Outcome(CHECK_NAME, "passed", f"{len(scrape_part(config)['scrape_configs'])} scrape jobs")


__all__ = ["CHECK_NAME", "check_scrape_configs", "scrape_part", "uses_kubernetes_discovery", "vmagent_error"]
