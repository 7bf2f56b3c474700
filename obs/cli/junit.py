"""Results of ``obs test`` as JUnit XML, so CI systems show each rule test on its own.

promtool (2.42) writes no JUnit itself, and reports a test file as one pass or fail. Here every
``promtool test rules`` outcome becomes one test case per case of the file: the failing ones are
read from promtool's output (each failure starts with the case's ``name:``), and, when the build
folder is known, the passing ones from the test file itself. Other outcomes (amtool's routing
tests, ...) are one test case each.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import yaml

PROMTOOL_TEST = "promtool test rules "
_CASE_NAME = re.compile(r"^ {4}name: (?P<name>.*),$")
_FAILURE_START = re.compile(r"^ {4}\S")


def failed_cases(output: str) -> dict[str, str]:
    """Case name → promtool's failure text, from the output of a failed ``promtool test rules``.

    promtool starts each failure of a named case with ``    name: <case>,``; a failure of an
    unnamed case starts with its ``alertname:`` or ``expr:`` line and is keyed ``unnamed case
    (failure <n>)``."""
    _, found, after = output.partition("FAILED:")
    if not found:
        return {}
    failures: dict[str, list[str]] = {}
    current: list[str] | None = None
    after_name, unnamed = False, 0
    for line in after.splitlines():
        if not line.strip():
            continue
        match = _CASE_NAME.match(line)
        if match:
            current, after_name = failures.setdefault(match.group("name"), []), True
            continue
        if _FAILURE_START.match(line) and not after_name:
            unnamed += 1
            current = failures.setdefault(f"unnamed case (failure {unnamed})", [])
        after_name = False
        if current is not None:
            current.append(line)
    return {name: "\n".join(lines) for name, lines in failures.items()}


def case_names(path: Path) -> list[str]:
    """The case names of a promtool test file (an unnamed case by its position); empty when unreadable."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return []
    names = []
    for number, case in enumerate((data or {}).get("tests") or [], start=1):
        named = isinstance(case, Mapping) and case.get("name")
        names.append(str(case["name"]) if named else f"unnamed case {number}")
    return names


def _cases(record: Mapping[str, str], out_dir: Path | None) -> Iterator[tuple[str, str, str, str]]:
    """(classname suffix, case name, status, detail) of one outcome."""
    name, status, detail = record["name"], record["status"], record["detail"]
    if not name.startswith(PROMTOOL_TEST) or status == "skipped":
        yield "", name, status, detail
        return
    rel = name.removeprefix(PROMTOOL_TEST)
    suffix = Path(rel).name.removesuffix(".yml").removesuffix(".test")
    failures = failed_cases(detail) if status == "failed" else {}
    known = case_names(out_dir / record["environment"] / rel) if out_dir is not None else []
    if status == "failed" and not failures:
        yield suffix, rel, "failed", detail  # the file itself is wrong: no case ran
        return
    unnamed_failed = any(case.startswith("unnamed case (failure") for case in failures)
    for case in known:
        if case.startswith("unnamed case ") and unnamed_failed:
            continue  # promtool does not say which unnamed case failed: its failures stand for them
        yield suffix, case, "failed" if case in failures else "passed", failures.get(case, "")
    for case, text in failures.items():
        if case not in known:
            yield suffix, case, "failed", text
    if not known and not failures:
        yield suffix, rel, status, detail


def junit_xml(records: Sequence[Mapping[str, str]], out_dir: Path | None = None) -> bytes:
    """One ``testsuite`` per environment and group, one ``testcase`` per promtool case or outcome.

    ``out_dir`` is the build folder the tests ran in: with it, passing promtool cases are listed
    by name too (without it, a passing test file is one case)."""
    root = ET.Element("testsuites", name="obs test")
    suites: dict[tuple[str, str], ET.Element] = {}
    for record in records:
        key = (record["environment"], record["group"])
        if key not in suites:
            suites[key] = ET.SubElement(root, "testsuite", name=f"{key[0]}/{key[1]}")
        for suffix, name, status, detail in _cases(record, out_dir):
            classname = ".".join(p for p in (key[0], key[1], suffix) if p)
            case = ET.SubElement(suites[key], "testcase", classname=classname, name=name)
            if status == "failed":
                failure = ET.SubElement(case, "failure", message=(detail.strip().splitlines() or ["failed"])[0].strip()[:500])
                failure.text = detail
            elif status == "skipped":
                ET.SubElement(case, "skipped", message=detail[:500])
    every = [c for suite in suites.values() for c in suite]
    for suite in suites.values():
        cases = list(suite)
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
        suite.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))
    root.set("tests", str(len(every)))
    root.set("failures", str(sum(1 for c in every if c.find("failure") is not None)))
    ET.indent(root)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True)) + b"\n"


def write_junit(path: Path, records: Sequence[Mapping[str, str]], out_dir: Path | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(junit_xml(records, out_dir))


__all__ = ["case_names", "failed_cases", "junit_xml", "write_junit"]
