"""Checks of the runbook pages: well-formed HTML whose relative links land on pages of the build,
and every alert's ``runbook_url`` followed into them."""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterator, Mapping, Sequence
from html.parser import HTMLParser
from pathlib import Path

from obs.artifacts import Artifact, Outcome
from obs.renderers.rules import RULES_DIR
from obs.renderers.runbooks import LINKS_PATH, ROOT
from obs.schemas import load_yaml

#: Elements without an end tag.
_VOID = frozenset({"meta", "br", "hr", "img", "link", "input"})


class _Page(HTMLParser):
    """Collects the links and the title of a page, and every tag that does not close."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.hrefs: list[str] = []
        self.h1 = ""
        self._in_h1 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.extend(v for k, v in attrs if k == "href" and v)
        if tag == "h1":
            self._in_h1 = True
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "h1":
            self._in_h1 = False
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {'<' + self.stack[-1] + '>' if self.stack else 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self._in_h1:
            self.h1 += data


def parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    page.close()
    if page.stack:
        page.problems.append(f"<{page.stack[-1]}> is never closed")
    return page


def _problems(pages: Mapping[str, str]) -> list[str]:
    """Every page parses, has a title, and its relative links land on a page of the set."""
    found: list[str] = []
    for path, text in sorted(pages.items()):
        page = parse(text)
        found += [f"{path}: {p}" for p in page.problems]
        if not page.h1.strip() and not path.endswith("index.html"):
            found.append(f"{path}: no <h1> title")
        for href in page.hrefs:
            if "://" in href or href.startswith(("#", "mailto:")):
                continue
            target = posixpath.normpath(posixpath.join(posixpath.dirname(path), href.split("#")[0]))
            if target not in pages:
                found.append(f"{path}: links to {href}, which is not a page of the build")
    return found


def verify(artifacts: Sequence[Artifact]) -> list[str]:
    """In-process, before anything is written."""
    pages = {a.path: a.content for a in artifacts if a.path.endswith(".html")}
    return [f"runbooks: {p}" for p in _problems(pages)]


def check(env_dir: Path) -> Iterator[Outcome]:
    """The written pages, as a browser would follow their links."""
    root = env_dir / ROOT
    pages = {str(p.relative_to(env_dir)): p.read_text(encoding="utf-8") for p in sorted(root.rglob("*.html"))}
    if not pages:
        yield Outcome("runbook pages", "failed", f"no pages under {root}")
        return
    problems = _problems(pages)
    yield Outcome(f"runbook pages ({len(pages)} pages)", "failed" if problems else "passed", "\n".join(problems))


def page_for(url: str, links: Mapping[str, str], env_dir: Path) -> Path | None:
    """The built page a ``runbook_url`` opens, by the base URL each folder is served at."""
    for base, folder in sorted(links.items(), key=lambda kv: -len(kv[0])):
        if url.startswith(base + "/"):
            return env_dir / ROOT / folder / url.removeprefix(base + "/").split("#")[0]
    return None


def test(env_dir: Path) -> Iterator[Outcome]:
    """Every alert's ``runbook_url`` in the written rules opens a built page about that alert."""
    links = json.loads((env_dir / LINKS_PATH).read_text(encoding="utf-8"))
    rules_dir = env_dir / RULES_DIR
    if not rules_dir.is_dir():
        yield Outcome("runbook links", "skipped", f"no rules under {rules_dir} to follow (build the rules group too)")
        return
    for path in sorted(rules_dir.glob("*.yml")):
        for group in (load_yaml(path.read_text(encoding="utf-8")) or {}).get("groups", []):
            for rule in group.get("rules", []):
                if "alert" not in rule:
                    continue
                url = rule.get("annotations", {}).get("runbook_url", "")
                name = f"runbook link of {rule['alert']} ({rule.get('labels', {}).get('service', '')}): {url}"
                page = page_for(url, links, env_dir)
                if page is None or not page.is_file():
                    yield Outcome(name, "failed", f"no built page at {page}" if page else "no runbook folder is served under that URL")
                    continue
                title = parse(page.read_text(encoding="utf-8")).h1
                ok = rule["alert"] in title
                yield Outcome(name, "passed" if ok else "failed", "" if ok else f"{page} is about {title!r}")


__all__ = ["check", "page_for", "parse", "test", "verify"]
