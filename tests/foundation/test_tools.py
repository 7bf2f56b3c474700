"""Finding promtool and amtool: explicit command, then PATH, then docker, else a clear error."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from obs import tools
from obs.errors import ToolNotFoundError


def test_an_explicit_command_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBS_PROMTOOL", "/opt/prom/promtool --log.level=warn")
    assert tools.find_tool("promtool") == ["/opt/prom/promtool", "--log.level=warn"]


def test_without_a_binary_docker_runs_the_official_image(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("OBS_AMTOOL", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(tools, "_docker_answers", lambda: True)
    command = tools.find_tool("amtool", cwd=tmp_path)
    assert command[:2] == ["docker", "run"]
    assert f"{tmp_path}:{tmp_path}" in command and command[-2:] == ["amtool", "prom/alertmanager:v0.27.0"]


def test_without_binary_or_docker_the_error_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("OBS_PROMTOOL", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(tools, "_docker_answers", lambda: False)
    with pytest.raises(
        ToolNotFoundError, match=r"apt-get install -y prometheus \(Debian\), or set OBS_PROMTOOL"
    ):
        tools.find_tool("promtool")


@pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool not installed (apt-get install -y prometheus)"
)
def test_a_real_run_returns_the_tools_output(tmp_path: Path) -> None:
    (tmp_path / "rules.yml").write_text("groups:\n- name: g\n  rules:\n  - record: a:b\n    expr: sum(up\n")
    result = tools.run_tool("promtool", ["check", "rules", "rules.yml"], cwd=tmp_path)
    assert not result.ok
    assert "unclosed left parenthesis" in result.output
