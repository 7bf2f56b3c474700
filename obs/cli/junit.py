"""Results of ``obs test`` as JUnit XML, so CI systems show each rule test on its own."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path


def junit_xml(records: Sequence[dict[str, str]]) -> bytes:
    """One ``testsuite`` per environment and group, one ``testcase`` per outcome."""
    root = ET.Element("testsuites", name="obs test")
    suites: dict[tuple[str, str], ET.Element] = {}
    for record in records:
        key = (record["environment"], record["group"])
        if key not in suites:
            suites[key] = ET.SubElement(root, "testsuite", name=f"{key[0]}/{key[1]}")
        case = ET.SubElement(suites[key], "testcase", classname=f"{key[0]}.{key[1]}", name=record["name"])
        if record["status"] == "failed":
            failure = ET.SubElement(case, "failure", message=(record["detail"].splitlines() or ["failed"])[0][:500])
            failure.text = record["detail"]
        elif record["status"] == "skipped":
            ET.SubElement(case, "skipped", message=record["detail"][:500])
    for suite in suites.values():
        cases = list(suite)
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
        suite.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))
    root.set("tests", str(len(records)))
    root.set("failures", str(sum(r["status"] == "failed" for r in records)))
    ET.indent(root)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True)) + b"\n"


def write_junit(path: Path, records: Sequence[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(junit_xml(records))


__all__ = ["junit_xml", "write_junit"]
