"""Checks of rule placement and of the metrics store's ruler files.

``verify`` (build time): every rule of the ruler's files carries the environment's label, and no
file is both local and the ruler's. ``check`` (written files): the local Prometheus loads exactly
the local files and the ruler exactly the others, so no rule is evaluated twice; an agent's
configuration passes ``promtool check config --agent``; the ruler's rule files pass ``promtool
check rules`` (and ``vmalert -dryRun`` with its flags for VictoriaMetrics); Thanos' and Mimir's
files match their documented formats (schemas in :mod:`obs.schemas`, origins noted there).
``test``: ``promtool test rules`` on the ruler's tests.
"""

from __future__ import annotations

import glob
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from obs import schemas
from obs.artifacts import Artifact, Outcome
from obs.errors import ToolNotFoundError
from obs.renderers.prometheus import CONFIG_PATH
from obs.renderers.ruler import MOUNTS, PLACEMENT_PATH, RULER_DIRS, SCOPE_LABEL, TESTS_DIR
from obs.rules.rulefile import RULES_DIR
from obs.schemas import load_yaml
from obs.tools import run_tool

#: Schema (in obs/schemas) of each Thanos and Mimir file, by file name.
SCHEMAS: Mapping[str, str] = {
    "query.yml": "thanos-rule-query",
    "alertmanagers.yml": "thanos-rule-alertmanagers",
    "flags.yml": "thanos-rule-flags",
    "runtime-overrides.yml": "mimir-runtime-overrides",
}


def _placement(artifacts: Sequence[Artifact]) -> Mapping[str, Any] | None:
    for artifact in artifacts:
        if artifact.path == PLACEMENT_PATH and isinstance(artifact.content, Mapping):
            return artifact.content
    return None


def verify(artifacts: Sequence[Artifact]) -> list[str]:
    placement = _placement(artifacts)
    if placement is None:
        return [f"{PLACEMENT_PATH} is missing"]
    problems: list[str] = []
    ruler = [entry["rules"] for entry in placement["ruler"]]
    for path in sorted(set(placement["local"]) & set(ruler)):
        problems.append(f"{path} would run both locally and in the ruler")
    scope = placement["scope"].get(SCOPE_LABEL)
    files = {entry["file"] for entry in placement["ruler"]}
    written = {a.path: a for a in artifacts}
    for path in sorted(files):
        if path not in written:
            problems.append(f"{path}: named in {PLACEMENT_PATH} but not rendered")
            continue
        for group in written[path].content["groups"]:
            for rule in group["rules"]:
                if (rule.get("labels") or {}).get(SCOPE_LABEL) != scope:
                    problems.append(f"{path}: {rule.get('record') or rule.get('alert')} is not labelled {SCOPE_LABEL}={scope!r}")
    return problems


# --- check -----------------------------------------------------------------------------------------------


def _read(path: Path) -> Any:
    return load_yaml(path.read_text())


def _rule_names(path: Path) -> set[tuple[str, str]]:
    """(group, rule) pairs of a rule file: what an evaluator would run."""
    data = _read(path) or {}
    return {(g["name"], r.get("record") or r.get("alert")) for g in data.get("groups") or [] for r in g.get("rules") or []}


def placement_problems(env_dir: Path) -> list[str]:
    """Every rule file runs in exactly one place, and the local Prometheus loads what placement says."""
    placement = _read(env_dir / PLACEMENT_PATH)
    config = _read(env_dir / CONFIG_PATH)
    prometheus_dir = (env_dir / CONFIG_PATH).parent
    loaded = sorted(
        {Path(p).relative_to(env_dir).as_posix() for pattern in config.get("rule_files") or [] for p in glob.glob(str(prometheus_dir / pattern))}
    )
    local = sorted(placement["local"])
    ruler = {entry["rules"]: entry["file"] for entry in placement["ruler"]}
    problems: list[str] = []
    if loaded != local:
        problems.append(f"{CONFIG_PATH} loads {loaded}, but {PLACEMENT_PATH} says the local files are {local}")
    every = sorted(p.relative_to(env_dir).as_posix() for p in (env_dir / RULES_DIR).glob("*.yml"))
    for path in every:
        if (path in local) == (path in ruler):
            problems.append(f"{path} runs {'in both places' if path in local else 'nowhere'}")
    if placement["agent_mode"] and (config.get("rule_files") or config.get("alerting")):
        problems.append(f"{CONFIG_PATH}: an agent evaluates no rules and sends no alerts, but rule_files or alerting is set")
    local_rules = set().union(*(_rule_names(env_dir / p) for p in loaded)) if loaded else set()
    for source, copy in sorted(ruler.items()):
        if not (env_dir / copy).is_file():
            problems.append(f"{copy}: the ruler's copy of {source} is missing")
            continue
        twice = _rule_names(env_dir / copy) & local_rules
        problems += [f"{group}/{name} is evaluated by the local Prometheus and by the ruler" for group, name in sorted(twice)]
        if _rule_names(env_dir / copy) != _rule_names(env_dir / source):
            problems.append(f"{copy} does not hold the rules of {source}")
    return problems


def _ruler_files(env_dir: Path) -> list[Path]:
    placement = _read(env_dir / PLACEMENT_PATH)
    return [env_dir / entry["file"] for entry in placement["ruler"]]


def _promtool(name: str, args: list[str], cwd: Path, timeout: float = 120) -> Outcome:
    try:
        result = run_tool("promtool", args, cwd=cwd, timeout=timeout)
    except ToolNotFoundError as exc:
        return Outcome(name, "skipped", str(exc))
    return Outcome(name, "passed" if result.ok else "failed", result.output)


#: What vmalert says of a rule field it predates (keep_firing_for arrived in vmalert 1.90).
_UNKNOWN_KEEP_FIRING = "unknown fields in rule: keep_firing_for"


def _vmalert_dry_run(env_dir: Path) -> Iterator[Outcome]:
    """vmalert parses its flags and validates the rules (MetricsQL, templates) without running.

    A vmalert older than 1.90 (Debian 12 ships 1.79) refuses ``keep_firing_for``: the rest is then
    checked on copies without it, and whether vmalert reads the field is reported as skipped."""
    import subprocess

    from obs.runtime.binaries import find_binary

    name = "vmalert -dryRun (flags.yml and the rule files)"
    folder = env_dir / RULER_DIRS["victoriametrics"]
    flags: list[str] = _read(folder / "flags.yml")
    try:
        vmalert = find_binary("vmalert")
    except ToolNotFoundError as exc:
        yield Outcome(name, "skipped", str(exc))
        return

    def dry_run(rules: Path) -> tuple[int, str]:
        # The rule flag names the mount point; here the files are in the build folder.
        args = [f.replace(f"-rule={MOUNTS['victoriametrics']}/rules/", f"-rule={rules}/") for f in flags]
        try:
            done = subprocess.run([*vmalert, *args, "-dryRun", "-loggerLevel=WARN"], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return 124, "vmalert -dryRun did not finish within 60 s"
        return done.returncode, (done.stdout + done.stderr).strip()

    code, detail = dry_run(folder / "rules")
    if code != 0 and _UNKNOWN_KEEP_FIRING in detail:
        with tempfile.TemporaryDirectory(prefix="obs-vmalert-") as scratch:
            for path in (folder / "rules").glob("*.yml"):
                data = _read(path)
                for group in data.get("groups") or []:
                    for rule in group.get("rules") or []:
                        rule.pop("keep_firing_for", None)
                (Path(scratch) / path.name).write_text(yaml.safe_dump(data))
            code, detail = dry_run(Path(scratch))
        yield Outcome(
            "vmalert reads keep_firing_for",
            "skipped",
            "this vmalert predates keep_firing_for (vmalert 1.90+ reads it, Debian 12 ships 1.79): deploy a newer vmalert, "
            "and point OBS_VMALERT at one to check it here",
        )
        name = "vmalert -dryRun (flags.yml and the rule files without keep_firing_for)"
    yield Outcome(name, "passed" if code == 0 else "failed", detail)


def _schema_outcomes(env_dir: Path, kind: str) -> Iterator[Outcome]:
    folder = env_dir / RULER_DIRS[kind]
    for path in sorted(folder.rglob("*.yml")):
        rel = path.relative_to(env_dir).as_posix()
        if kind == "mimir" and path.name != "runtime-overrides.yml":
            schema = "mimir-rule-namespace"
        elif path.name in SCHEMAS and (kind == "thanos" or path.name == "runtime-overrides.yml"):
            schema = SCHEMAS[path.name]
        else:
            continue
        problems = schemas.validate_file(schema, path)
        yield Outcome(f"{rel} matches {schema}", "failed" if problems else "passed", "\n".join(problems))


def check(env_dir: Path) -> Iterable[Outcome]:
    if not (env_dir / PLACEMENT_PATH).is_file():
        yield Outcome("rule placement", "failed", f"{env_dir / PLACEMENT_PATH} is missing: build the ruler group")
        return
    problems = placement_problems(env_dir)
    yield Outcome("rule placement: every rule file runs in exactly one place", "failed" if problems else "passed", "\n".join(problems))
    placement = _read(env_dir / PLACEMENT_PATH)
    if placement["agent_mode"]:
        config = env_dir / CONFIG_PATH
        yield _promtool("promtool check config --agent", ["check", "config", "--agent", "--syntax-only", config.name], config.parent)
    store = placement["metrics_store"]
    files = _ruler_files(env_dir)
    if store is None or not files:
        return
    for path in files:
        yield _promtool(f"promtool check rules {path.relative_to(env_dir)}", ["check", "rules", path.name], path.parent)
    kind = store["kind"]
    if kind == "victoriametrics":
        yield from _vmalert_dry_run(env_dir)
    if kind == "thanos":
        write = env_dir / RULER_DIRS["thanos"] / "remote-write.yml"
        # Thanos reads Prometheus' remote_write section: promtool judges it as a configuration of its own.
        yield _promtool(f"promtool check config {write.relative_to(env_dir)}", ["check", "config", "--syntax-only", write.name], write.parent)
    yield from _schema_outcomes(env_dir, kind)


def test(env_dir: Path) -> Iterator[Outcome]:
    """``promtool test rules`` on the ruler's tests, a few at a time (SLO tests evaluate hours)."""
    tests = sorted((env_dir / TESTS_DIR).glob("*.yml"))
    with ThreadPoolExecutor(max_workers=4) as pool:
        yield from pool.map(
            lambda path: _promtool(f"promtool test rules {path.relative_to(env_dir)}", ["test", "rules", path.name], path.parent, 300), tests
        )


__all__ = ["SCHEMAS", "check", "placement_problems", "test", "verify"]
