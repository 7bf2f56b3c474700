"""Finding server binaries: the OBS_* override, PATH, Debian's fixed folders, and one line naming the package."""

from __future__ import annotations

import dataclasses
import stat
from pathlib import Path

import pytest

from obs.errors import ToolNotFoundError
from obs.runtime.binaries import BINARIES, BinaryNotFoundError, available, find_binary, require

#: The package to apt-get install for each binary on Debian 12 (the metapackage where the binary
#: itself ships in a versioned or helper package: postgresql-15, redis-tools).
PACKAGES = {
    "prometheus": "prometheus",
    "promtool": "prometheus",
    "prometheus-alertmanager": "prometheus-alertmanager",
    "amtool": "prometheus-alertmanager",
    "victoria-metrics": "victoria-metrics",
    "vmalert": "victoria-metrics",
    "vmagent": "victoria-metrics",
    "initdb": "postgresql",
    "pg_ctl": "postgresql",
    "postgres": "postgresql",
    "redis-server": "redis-server",
    "prometheus-postgres-exporter": "prometheus-postgres-exporter",
    "prometheus-redis-exporter": "prometheus-redis-exporter",
    "prometheus-node-exporter": "prometheus-node-exporter",
    "prometheus-blackbox-exporter": "prometheus-blackbox-exporter",
    "chromium": "chromium",
}


def test_every_binary_names_its_debian_package_and_an_obs_variable() -> None:
    assert {name: spec.package for name, spec in BINARIES.items()} == PACKAGES
    for spec in BINARIES.values():
        assert spec.env_var.startswith("OBS_") and spec.env_var == spec.env_var.upper()
    # The variables obs.tools and obs.preview already read keep their names.
    assert (BINARIES["promtool"].env_var, BINARIES["amtool"].env_var) == ("OBS_PROMTOOL", "OBS_AMTOOL")
    assert (BINARIES["prometheus-blackbox-exporter"].env_var, BINARIES["chromium"].env_var) == ("OBS_BLACKBOX_EXPORTER", "OBS_CHROMIUM")


def test_a_missing_binary_is_one_line_with_the_apt_get_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("OBS_ALERTMANAGER", raising=False)
    with pytest.raises(BinaryNotFoundError) as caught:
        find_binary("prometheus-alertmanager")
    assert str(caught.value) == "prometheus-alertmanager not found: apt-get install -y prometheus-alertmanager (or set OBS_ALERTMANAGER)"
    assert isinstance(caught.value, ToolNotFoundError), "the CLI maps ToolNotFoundError to exit code 4"
    assert not available("prometheus-alertmanager")


def test_require_names_every_missing_binary_and_each_package_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    for name in ("redis-server", "vmalert", "vmagent"):
        monkeypatch.delenv(BINARIES[name].env_var, raising=False)
    with pytest.raises(BinaryNotFoundError) as caught:
        require("redis-server", "vmalert", "vmagent")
    assert caught.value.packages == ("redis-server", "victoria-metrics")
    assert str(caught.value) == (
        "redis-server, vmalert, vmagent not found: apt-get install -y redis-server victoria-metrics "
        "(or set OBS_REDIS_SERVER, OBS_VMALERT, OBS_VMAGENT)"
    )


def test_the_obs_variable_wins_and_is_read_as_shell_words(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("OBS_VMALERT", "/opt/vm/vmalert-prod -loggerLevel='ERROR'")
    assert find_binary("vmalert") == ["/opt/vm/vmalert-prod", "-loggerLevel=ERROR"]
    assert require("vmalert") == {"vmalert": ["/opt/vm/vmalert-prod", "-loggerLevel=ERROR"]}


def executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_path_is_searched_in_the_order_of_the_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("OBS_NODE_EXPORTER", raising=False)
    upstream = executable(tmp_path / "node_exporter")
    assert find_binary("prometheus-node-exporter") == [str(upstream)]
    debian = executable(tmp_path / "prometheus-node-exporter")
    assert find_binary("prometheus-node-exporter") == [str(debian)]


def test_postgres_programs_come_from_the_newest_major_version(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for major in ("9.6", "15", "13"):
        executable(tmp_path / "lib/postgresql" / major / "bin/initdb")
    monkeypatch.setitem(BINARIES, "initdb", dataclasses.replace(BINARIES["initdb"], locations=(f"{tmp_path}/lib/postgresql/*/bin/initdb",)))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("OBS_INITDB", raising=False)
    assert find_binary("initdb") == [str(tmp_path / "lib/postgresql/15/bin/initdb")]


def test_an_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(KeyError, match="unknown binary 'prometheus-server'; known: amtool, chromium, initdb"):
        find_binary("prometheus-server")
