"""Runbooks: one page per alert of the build, in Markdown and in static HTML served as it is.

Output (relative to the environment folder):

``runbooks/index.md``, ``runbooks/index.html``      every page, by component
``runbooks/<component>/<alert>[-<slo>].md|.html``  one page per alert (per SLO for burn-rate alerts)
``runbooks/links.json``                             which runbook base URL is which folder

Every alert's ``runbook_url`` is ``<runbook base of its component>/<page>.html``: serve
``runbooks/`` at ``Platform.runbook_base_url`` (a component with a ``runbook_base_url`` of its own
gets its folder served there). A page says what fired and what it means for users (for a burn-rate
alert, the budget spent by the time it fires and how long what is left lasts), the exact
expression, the panels to open (service and time range filled in), what inhibits the alert and what
it inhibits, the first diagnostic steps (queries in Grafana Explore, the service's logs and
traces), who owns it, and the text the team wrote for it (``Platform.runbooks``).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

from obs import contract
from obs.alerting import Alert, Severity, component_runbook_base, platform_runbook_base, runbook_slug
from obs.artifacts import Artifact, RenderContext
from obs.catalogue.alerts.slo import burn_alerts
from obs.grafana.provisioning import ELASTICSEARCH_UID, prometheus_uid
from obs.inhibition import Relations
from obs.model import SLO, Dependency, Environment, Platform, Service
from obs.ruleset import alerts as build_alerts
from obs.slo import SLO_LABEL, SLORecording, format_seconds

ROOT = "runbooks"
LINKS_PATH = f"{ROOT}/links.json"

# --- a small document model: one source, Markdown and HTML ------------------------------------------


@dataclass(frozen=True, slots=True)
class Link:
    text: str
    url: str


@dataclass(frozen=True, slots=True)
class Code:
    text: str


Inline = str | Link | Code


@dataclass
class Page:
    """A runbook page as blocks: (kind, content) with kind h1, h2, p, ul, pre or md."""

    path: str
    title: str
    blocks: list[tuple[str, object]] = field(default_factory=list)

    def add(self, kind: str, content: object) -> None:
        self.blocks.append((kind, content))


def _md_inline(parts: Sequence[Inline]) -> str:
    out = []
    for part in parts:
        if isinstance(part, Link):
            out.append(f"[{part.text}]({part.url})")
        elif isinstance(part, Code):
            out.append(f"`{part.text}`")
        else:
            out.append(part)
    return "".join(out)


def _html_inline(parts: Sequence[Inline]) -> str:
    out = []
    for part in parts:
        if isinstance(part, Link):
            out.append(f'<a href="{html.escape(part.url)}">{html.escape(part.text)}</a>')
        elif isinstance(part, Code):
            out.append(f"<code>{html.escape(part.text)}</code>")
        else:
            out.append(html.escape(part))
    return "".join(out)


def _parts(content: object) -> Sequence[Inline]:
    return [content] if isinstance(content, str | Link | Code) else content  # type: ignore[return-value]


def to_markdown(page: Page) -> str:
    lines: list[str] = []
    for kind, content in page.blocks:
        if kind == "h1":
            lines += [f"# {content}", ""]
        elif kind == "h2":
            lines += [f"## {content}", ""]
        elif kind == "p":
            lines += [_md_inline(_parts(content)), ""]
        elif kind == "ul":
            lines += [f"- {_md_inline(_parts(item))}" for item in content] + [""]  # type: ignore[attr-defined]
        elif kind == "pre":
            lines += ["```", str(content), "```", ""]
        elif kind == "md":
            lines += [str(content).strip(), ""]
    return "\n".join(lines).rstrip() + "\n"


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.5}"
    "pre{background:#f4f4f4;padding:.75rem;overflow-x:auto}code{background:#f4f4f4;padding:0 .2rem}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .5rem}"
)


def to_html(page: Page, home: str) -> str:
    body: list[str] = [f'<p><a href="{html.escape(home)}">All runbooks</a></p>']
    for kind, content in page.blocks:
        if kind in ("h1", "h2"):
            body.append(f"<{kind}>{html.escape(str(content))}</{kind}>")
        elif kind == "p":
            body.append(f"<p>{_html_inline(_parts(content))}</p>")
        elif kind == "ul":
            items = "".join(f"<li>{_html_inline(_parts(item))}</li>" for item in content)  # type: ignore[attr-defined]
            body.append(f"<ul>{items}</ul>")
        elif kind == "pre":
            body.append(f"<pre>{html.escape(str(content))}</pre>")
        elif kind == "md":
            body.append(markdown_html(str(content)))
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(page.title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


_MD_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_MD_CODE = re.compile(r"`([^`]+)`")
_MD_BOLD = re.compile(r"\*\*([^*]+)\*\*")


def _md_span(text: str) -> str:
    """Inline Markdown (links, code, bold) as HTML, everything else escaped."""
    out, pos = [], 0
    pattern = re.compile(f"{_MD_LINK.pattern}|{_MD_CODE.pattern}|{_MD_BOLD.pattern}")
    for m in pattern.finditer(text):
        out.append(html.escape(text[pos : m.start()]))
        if m.group(1) is not None:
            url = m.group(2)
            safe = url if re.match(r"^(https?://|/|\.|#)", url) else "#"
            out.append(f'<a href="{html.escape(safe)}">{html.escape(m.group(1))}</a>')
        elif m.group(3) is not None:
            out.append(f"<code>{html.escape(m.group(3))}</code>")
        else:
            out.append(f"<strong>{html.escape(m.group(4))}</strong>")
        pos = m.end()
    out.append(html.escape(text[pos:]))
    return "".join(out)


def markdown_html(text: str) -> str:
    """The Markdown a team writes (headings, paragraphs, lists, fenced code, links, code, bold) as
    HTML; anything else is kept as escaped text, never as markup."""
    out: list[str] = []
    para: list[str] = []
    items: list[str] = []
    lines = text.splitlines()
    i = 0

    def flush() -> None:
        if para:
            out.append(f"<p>{_md_span(' '.join(para))}</p>")
            para.clear()
        if items:
            out.append("<ul>" + "".join(f"<li>{_md_span(x)}</li>" for x in items) + "</ul>")
            items.clear()

    while i < len(lines):
        line = lines[i].rstrip()
        if line.startswith("```"):
            flush()
            code = []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                code.append(lines[i])
                i += 1
            out.append(f"<pre>{html.escape(chr(10).join(code))}</pre>")
        elif m := re.match(r"^(#{1,6})\s+(.*)$", line):
            flush()
            level = min(6, len(m.group(1)) + 2)
            out.append(f"<h{level}>{_md_span(m.group(2))}</h{level}>")
        elif m := re.match(r"^\s*(?:[-*]|\d+\.)\s+(.*)$", line):
            if para:
                flush()
            items.append(m.group(1))
        elif not line.strip():
            flush()
        else:
            if items:
                flush()
            para.append(line.strip())
        i += 1
    flush()
    return "\n".join(out)


# --- links -----------------------------------------------------------------------------------------


def explore(platform: Platform, env: Environment, expr: str, since: str = "now-1h") -> str:
    """Grafana Explore on this environment's Prometheus with ``expr`` over the last while."""
    uid = prometheus_uid(env)
    pane = {"datasource": uid, "queries": [{"refId": "A", "expr": expr, "datasource": {"type": "prometheus", "uid": uid}}], "range": {"from": since, "to": "now"}}
    panes = json.dumps({"a": pane}, separators=(",", ":"), sort_keys=True)
    return f"{platform.grafana_url.rstrip('/')}/explore?schemaVersion=1&orgId=1&panes={quote(panes, safe='')}"


def log_search(platform: Platform, env: Environment, lucene: str, since: str = "now-1h") -> str:
    """Grafana Explore on the Elasticsearch datasource (the JSON logs) with a Lucene query."""
    query = {"refId": "A", "datasource": {"type": "elasticsearch", "uid": ELASTICSEARCH_UID}, "query": lucene, "metrics": [{"id": "1", "type": "logs"}]}
    pane = {"datasource": ELASTICSEARCH_UID, "queries": [query], "range": {"from": since, "to": "now"}}
    panes = json.dumps({"logs": pane}, separators=(",", ":"), sort_keys=True)
    return f"{platform.grafana_url.rstrip('/')}/explore?schemaVersion=1&orgId=1&panes={quote(panes, safe='')}"


def trace_search(platform: Platform, env: Environment, service: str, tags: Mapping[str, str]) -> str:
    """Jaeger's search for the service's traces of the last hour in this environment."""
    all_tags = {**tags, contract.ENVIRONMENT_RESOURCE_ATTRIBUTE: env.name}
    params = [("service", service), ("lookback", "1h"), ("limit", "20"), ("tags", json.dumps(all_tags, separators=(",", ":")))]
    return f"{platform.jaeger_url.rstrip('/')}/search?{urlencode(params, quote_via=quote)}"


def with_range(url: str, since: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}from={since}&to=now"


# --- pages -----------------------------------------------------------------------------------------


def _component(platform: Platform, name: str) -> Service | Dependency | None:
    return next((c for c in platform.components() if c.name == name), None)


def page_key(alert: Alert) -> tuple[str, str]:
    """(folder, file name without suffix) of the alert's page."""
    return alert.service, runbook_slug(alert.name, alert.labels.get(SLO_LABEL, ""))


def runbook_base(platform: Platform, service: str) -> str:
    comp = _component(platform, service)
    return component_runbook_base(platform, comp) if comp is not None else platform_runbook_base(platform, service)


def _severity_word(severity: Severity) -> str:
    return {"page": "pages the on-call engineer", "ticket": "opens a ticket in the team's chat", "info": "notifies nobody"}[severity.value]


def _slo_of(platform: Platform, alert: Alert) -> tuple[Service, SLO] | None:
    comp = _component(platform, alert.service)
    if not isinstance(comp, Service) or SLO_LABEL not in alert.labels:
        return None
    slo = next((s for s in comp.slos if s.name == alert.labels[SLO_LABEL]), None)
    return (comp, slo) if slo is not None else None


def _slo_section(page: Page, platform: Platform, env: Environment, service: Service, slo: SLO, alerts: Sequence[Alert]) -> None:
    window = slo.window_seconds
    budget = round(slo.error_budget, 12)
    page.add("h2", "What it means for users")
    page.add("p", f"{slo.objective * 100:.6g}% of {service.name} requests must be good over {slo.window}" + (f" ({slo.description})" if slo.description else "") + f": the error budget is {budget * 100:.6g}% of them, {format_seconds(window * budget)} of total outage.")
    rows = {a.severity: r for a, r in burn_alerts(platform, env, service, slo)}
    for alert in alerts:
        items: list[Sequence[Inline]] = []
        for w in rows.get(alert.severity, ()):
            items.append([
                f"above {w.factor:g}x over {w.long_window} and {w.short_window}: {w.row.budget_percent:g}% of the {slo.window} budget is spent within {w.long_window}; "
                f"at that burn the whole budget lasts {format_seconds(window / w.factor)}"
            ])  # fmt: skip
        page.add("p", f"The {alert.severity.value} {_severity_word(alert.severity)} when any of these holds:")
        page.add("ul", items)
    sel = f'{{{contract.SERVICE_LABEL}="{service.name}", {SLO_LABEL}="{slo.name}"}}'
    left = SLORecording.PERIOD_BUDGET_REMAINING.series()
    now = SLORecording.SLI_ERROR.series("1h")
    page.add("p", [
        "How much is left, and how long it lasts at the burn of the last hour: ",
        Link("budget left", explore(platform, env, f"{left}{sel}", "now-" + slo.window)), ", ",
        Link("time to exhaustion", explore(platform, env, f"{left}{sel} * {window} / ({now}{sel} / {budget})", "now-6h")),
        " (seconds).",
    ])  # fmt: skip


def _related(page: Page, platform: Platform, alert: Alert, present: Mapping[tuple[str, str], str], relations: Relations) -> None:
    """What inhibits the alert, what it inhibits, and the component's dependencies. ``present``
    maps (service, alert name in lower case) to the page of that alert."""
    def ref(service: str, name: str) -> Inline:
        found = present.get((service, name.lower()))
        return Link(f"{name} of {service}", "../" + found) if found else f"{name} of {service}"

    items: list[Sequence[Inline]] = []
    if alert.severity is Severity.TICKET:
        items.append([f"Inhibited while the page of the same alert fires ({alert.name} of {alert.service}, same SLO and environment)."])
    if alert.severity is Severity.PAGE:
        items.append([f"Inhibits the ticket of the same alert ({alert.name} of {alert.service}, same SLO and environment)."])
    for inh in relations.touching(alert.service):
        if inh.target_service == alert.service and alert.name in inh.targets:
            sources: list[Inline] = ["Inhibited by "]
            for i, name in enumerate(inh.sources):
                sources += [", " if i else "", ref(inh.source_service, name)]
            items.append([*sources, f": {inh.why}."])
        if inh.source_service == alert.service and alert.name in inh.sources:
            items.append([f"Inhibits {', '.join(inh.targets)} of {inh.target_service} ({inh.why})."])
    comp = _component(platform, alert.service)
    if isinstance(comp, Service) and comp.depends_on:
        items.append([f"{comp.name} depends on {', '.join(comp.depends_on)} (through them: {', '.join(relations.upstream[comp.name])})."])
    users = sorted(relations.dependants.get(alert.service, ()))
    if users:
        items.append([f"Depended on by {', '.join(users)}."])
    page.add("h2", "Related alerts and dependencies")
    page.add("ul", items or [["None: nothing inhibits this alert, and it inhibits nothing."]])


def _diagnose(page: Page, platform: Platform, env: Environment, alerts: Sequence[Alert]) -> None:
    alert = alerts[0]
    comp = _component(platform, alert.service)
    run: list[Inline] = ["Run the alert's expression in Grafana Explore:"]
    for a in alerts:
        run += [" ", Link(a.severity.value, explore(platform, env, a.expr, "now-6h"))]
    steps: list[Sequence[Inline]] = [
        [Link("Open the panel that explains it", with_range(alert.dashboard_url, "now-6h")), f" ({alert.service}, last 6 hours)."],
        run,
    ]
    if isinstance(comp, Service) and comp.kind.instrumented:
        count = contract.HTTP_SERVER_REQUESTS.name
        svc = f'{contract.SERVICE_LABEL}="{comp.name}"'
        steps.append([Link("Failing requests by route and status", explore(platform, env, f'sum by ({contract.ROUTE_LABEL}, {contract.STATUS_LABEL}) (rate({count}{{{svc}, {contract.STATUS_LABEL}=~"5.."}}[5m]))'))])
        steps.append([Link("Targets up", explore(platform, env, f'up{{job="{comp.name}"}}'))])
        lucene = f'service.name:"{comp.name}" AND service.environment:"{env.name}"'
        steps.append([Link("Error logs", log_search(platform, env, f"{lucene} AND log.level:(error OR critical)")), ": ", Code(lucene), " at level error or critical"])
        steps.append([Link("Failed requests in the access log", log_search(platform, env, f"{lucene} AND http.response.status_code:>=500"))])
        steps.append([Link("Traces with errors", trace_search(platform, env, comp.name, {"error": "true"})), ", ", Link("slow traces", trace_search(platform, env, comp.name, {}) + "&minDuration=1s")])
    elif isinstance(comp, Dependency):
        steps.append([Link(f"Exporter of {comp.name} up", explore(platform, env, f'up{{job="{comp.name}"}}'))])
    page.add("h2", "First diagnostic steps")
    page.add("ul", steps)


def _owner(page: Page, platform: Platform, alert: Alert) -> None:
    team = platform.team(alert.team)
    where = [f"team {team.name}"]
    if team.chat_channel:
        where.append(f"chat {team.chat_channel}")
    if team.email:
        where.append(f"mail {team.email}")
    comp = _component(platform, alert.service)
    tier = f", tier {comp.tier}" if isinstance(comp, Service) else ""
    page.add("h2", "Owner")
    page.add("p", f"{', '.join(where)} ({alert.service}{tier}).")


_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}")


def readable(template: str) -> str:
    """An annotation template as a sentence: the measured value as N, a label as <its name>."""

    def word(m: re.Match[str]) -> str:
        label = re.match(r"^\$labels\.(\w+)$", m.group(1))
        return f"<{label.group(1)}>" if label else "N"

    return _ACTION.sub(word, template)


def alert_page(ctx: RenderContext, alerts: Sequence[Alert], present: Mapping[tuple[str, str], str], relations: Relations) -> Page:
    """The page of one alert (all its severities: the page and the ticket of a burn-rate alert)."""
    platform, env = ctx.platform, ctx.env
    first = alerts[0]
    folder, slug = page_key(first)
    variant = f" ({first.labels[SLO_LABEL]} SLO)" if SLO_LABEL in first.labels else ""
    page = Page(f"{ROOT}/{folder}/{slug}", f"{first.name} of {first.service}{variant}")
    page.add("h1", page.title)
    page.add("h2", "What fired")
    page.add("ul", [[f"{a.severity.value}: {readable(a.summary)} ({_severity_word(a.severity)}" + (f", after {a.for_}" if a.for_ not in ("0s", "") else "") + ")"] for a in alerts])
    page.add("p", readable(first.description))
    found = _slo_of(platform, first)
    if found is not None:
        _slo_section(page, platform, env, found[0], found[1], alerts)
    page.add("h2", "The expression")
    for a in alerts:
        if len(alerts) > 1:
            page.add("p", f"{a.severity.value}:")
        page.add("pre", a.expr)
    _related(page, platform, first, present, relations)
    _diagnose(page, platform, env, alerts)
    _owner(page, platform, first)
    text = ctx.content.runbooks.get(first.name, "")
    if text:
        page.add("h2", "From the team")
        page.add("md", text)
    return page


def pages(ctx: RenderContext) -> list[Page]:
    """Every page of the build's alerts, in the order the alerts come."""
    grouped: dict[tuple[str, str], list[Alert]] = {}
    for alert in build_alerts(ctx):
        grouped.setdefault(page_key(alert), []).append(alert)
    # (service, alert name) -> the first page of that alert: the slug starts with the name.
    present: dict[tuple[str, str], str] = {}
    for folder, slug in grouped:
        present.setdefault((folder, slug.split("-")[0]), f"{folder}/{slug}.html")
    for members in grouped.values():
        members.sort(key=lambda a: ("page", "ticket", "info").index(a.severity.value))
    relations = Relations.of(ctx.platform)
    return [alert_page(ctx, members, present, relations) for members in grouped.values()]


def index_page(found: Sequence[Page]) -> Page:
    index = Page(f"{ROOT}/index", "Runbooks")
    index.add("h1", "Runbooks")
    by_folder: dict[str, list[Page]] = {}
    for page in found:
        by_folder.setdefault(page.path.split("/")[1], []).append(page)
    for folder in sorted(by_folder):
        index.add("h2", folder)
        index.add("ul", [[Link(p.title, p.path.removeprefix(f"{ROOT}/") + ".html")] for p in by_folder[folder]])
    return index


def render(ctx: RenderContext) -> Iterable[Artifact]:
    found = pages(ctx)
    for page in found:
        yield Artifact(f"{page.path}.md", to_markdown(page))
        yield Artifact(f"{page.path}.html", to_html(page, "../index.html"))
    index = index_page(found)
    yield Artifact(f"{index.path}.md", to_markdown(index).replace(".html)", ".md)"))
    yield Artifact(f"{index.path}.html", to_html(index, "index.html"))
    folders = sorted({p.path.split("/")[1] for p in found})
    yield Artifact(LINKS_PATH, {runbook_base(ctx.platform, f).rstrip("/"): f for f in folders})


__all__ = ["LINKS_PATH", "ROOT", "Code", "Link", "Page", "alert_page", "explore", "index_page", "log_search", "markdown_html", "page_key", "pages", "render", "runbook_base", "to_html", "to_markdown", "trace_search"]
