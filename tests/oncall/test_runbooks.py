"""Runbooks: a page behind every alert's link, saying what it means, what to open and who owns it,
with the team's own text merged in."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from edu_platform import platform as edu
from obs.artifacts import Artifact
from obs.builder import build
from obs.checks import runbooks as checks
from obs.renderers.runbooks import markdown_html
from tests.alerts.alert_platforms import small_platform

GROUPS = ["prometheus", "rules", "alertmanager", "runbooks"]


@pytest.fixture(scope="module")
def edu_prod(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("edu-runbooks")
    build(edu, out, environments=["prod"], groups=GROUPS)
    return out / "prod"


def test_every_alerts_runbook_link_opens_a_built_page_about_that_alert(edu_prod: Path) -> None:
    outcomes = list(checks.test(edu_prod))
    assert len(outcomes) >= 50
    assert [f"{o.name}: {o.detail}" for o in outcomes if o.status != "passed"] == []


def test_the_pages_are_html_whose_links_land_on_pages_of_the_build(edu_prod: Path) -> None:
    (outcome,) = checks.check(edu_prod)
    assert outcome.status == "passed", outcome.detail
    assert (edu_prod / "runbooks" / "index.html").is_file()


def test_a_burn_rate_page_says_what_it_means_in_budget_and_time(edu_prod: Path) -> None:
    text = (edu_prod / "runbooks" / "backend" / "errorbudgetburn-availability.md").read_text()
    # Budget consumed when each condition fires, and how long the rest lasts at that burn.
    assert "above 14.4x over 1h and 5m: 2% of the 30d budget is spent within 1h; at that burn the whole budget lasts 2d 2h" in text
    assert "above 1x over 3d and 6h: 10% of the 30d budget is spent within 3d; at that burn the whole budget lasts 30d" in text
    assert "the error budget is 0.1% of them, 44m of total outage" in text
    # The exact expressions of the page and the ticket.
    assert 'slo:sli_error:ratio_rate1h{service="backend", slo="availability"} / 0.001 > 14.4' in text
    assert 'slo:sli_error:ratio_rate3d{service="backend", slo="availability"} / 0.001 > 1' in text
    # The panel, with the service and a time range; the team that owns it.
    assert "(https://grafana.edu.example.org/d/obs-slo?viewPanel=3&var-service=backend&var-slo=availability&from=now-6h&to=now)" in text
    assert "team learning, chat #edu-learning (backend, tier 1)." in text


def test_a_page_names_what_inhibits_its_alert_and_what_it_inhibits(edu_prod: Path) -> None:
    bridge = (edu_prod / "runbooks" / "bridge" / "higherrorrate.md").read_text()
    assert "Inhibited by [ServiceDown of backend](../backend/servicedown.html), [RecentOutage of backend](../backend/recentoutage.html)" in bridge
    assert "Inhibited by [PostgresDown of postgres](../postgres/postgresdown.html)" in bridge
    down = (edu_prod / "runbooks" / "backend" / "servicedown.md").read_text()
    assert "Inhibits HighErrorRate, LatencyP99High, ErrorBudgetBurn of bridge" in down
    ticket = (edu_prod / "runbooks" / "backend" / "errorbudgetburn-latency.md").read_text()
    assert "Inhibits the ticket of the same alert" in ticket


def test_first_steps_search_the_services_logs_and_traces(edu_prod: Path) -> None:
    text = (edu_prod / "runbooks" / "backend" / "higherrorrate.md").read_text()
    assert "`service.name:\"backend\" AND service.environment:\"prod\"`" in text
    assert "https://jaeger.edu.example.org/search?service=backend&lookback=1h&limit=20&tags=" in text
    assert "https://grafana.edu.example.org/explore?schemaVersion=1&orgId=1&panes=" in text


def test_the_pages_of_the_built_in_platform_match_the_golden_files(edu_prod: Path, golden: Callable[[str, bytes], None]) -> None:
    for page in ("backend/errorbudgetburn-availability.md", "backend/servicedown.md", "postgres/postgresdown.md", "index.md"):
        golden(f"runbooks/prod/{page}", (edu_prod / "runbooks" / page).read_bytes())


def test_the_teams_own_text_is_merged_into_the_page_and_never_run_as_html(tmp_path: Path) -> None:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "LatencyP99High.md").write_text(
        "## Known causes\n\nThe **report export** is slow on Mondays. See [the board](https://board.example.org/x).\n\n"
        "- restart `shop-worker`\n- <script>alert(1)</script>\n"
    )
    platform = small_platform(content={"runbooks": ("runbooks",)})
    build(platform, tmp_path / "out", environments=["prod"], groups=GROUPS, root=tmp_path)
    page = tmp_path / "out" / "prod" / "runbooks" / "shop" / "latencyp99high"
    md, html = page.with_suffix(".md").read_text(), page.with_suffix(".html").read_text()
    assert "## From the team" in md and "The **report export** is slow on Mondays." in md
    assert "<strong>report export</strong>" in html and '<a href="https://board.example.org/x">the board</a>' in html
    assert "<li>restart <code>shop-worker</code></li>" in html
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert [o for o in checks.test(tmp_path / "out" / "prod") if o.status != "passed"] == []


def test_a_component_with_its_own_runbook_base_gets_its_pages_served_there(tmp_path: Path) -> None:
    platform = small_platform()
    build(platform, tmp_path, environments=["prod"], groups=GROUPS)
    import json

    links = json.loads((tmp_path / "prod" / "runbooks" / "links.json").read_text())
    assert links["https://runbooks.example.org/shop"] == "shop"
    assert [o for o in checks.test(tmp_path / "prod") if o.status != "passed"] == []


def test_a_broken_link_between_pages_stops_the_build() -> None:
    page = "<!DOCTYPE html><html><body><h1>X</h1><a href=\"../other/missing.html\">x</a></body></html>"
    problems = checks.verify([Artifact("runbooks/a/x.html", page)])
    assert problems == ["runbooks: runbooks/a/x.html: links to ../other/missing.html, which is not a page of the build"]


@pytest.mark.parametrize(
    ("markdown", "html"),
    [
        ("# Title", "<h3>Title</h3>"),
        ("a <b>bold</b> claim", "<p>a &lt;b&gt;bold&lt;/b&gt; claim</p>"),
        ("[x](javascript:void)", '<p><a href="#">x</a></p>'),
        ("```\n<b>\n```", "<pre>&lt;b&gt;</pre>"),
    ],
)
def test_team_markdown_becomes_safe_html(markdown: str, html: str) -> None:
    assert markdown_html(markdown) == html


def test_a_platform_without_alert_content_still_gets_a_page_per_catalogue_alert(tmp_path: Path) -> None:
    bare = dataclasses.replace(small_platform(), alerts=())
    build(bare, tmp_path, environments=["prod"], groups=GROUPS)
    pages = sorted(p.name for p in (tmp_path / "prod" / "runbooks" / "shop").glob("*.html"))
    assert "errorbudgetburn-availability.html" in pages and "servicedown.html" in pages
