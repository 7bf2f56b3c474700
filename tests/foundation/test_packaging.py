"""The wheel behaves in a user's environment: it installs only obs and the two packages services
import, and a command that needs an extra says which one in one line (exit 4)."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (found,) = out.glob("obs-*.whl")
    return found


def test_the_wheel_installs_no_generic_top_level_module_but_the_two_services_import(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"obs", "instrumentation", "exporters"}
    # The built-in platform and its content are this repository's example, not the library's.
    assert not [n for n in names if n.startswith(("alerts/", "dashboards/", "edu_platform"))]
    # The data the library reads at run time ships with it.
    assert "obs/windows/google.yaml" in names
    assert any(n.startswith("obs/schemas/kubernetes/") for n in names) or not (REPO / "obs/schemas/kubernetes").exists()


@pytest.fixture(scope="module")
def core_install(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pip install obs` without any extra: the wheel and PyYAML only."""
    env = tmp_path_factory.mktemp("venv")
    venv.create(env, with_pip=True)
    subprocess.run([str(env / "bin/pip"), "install", "-q", "--no-deps", str(wheel), "pyyaml"], check=True, capture_output=True, timeout=300)
    return env


@pytest.mark.parametrize("command", ["build", "check", "test", "list"])
def test_a_command_without_its_extra_names_it_in_one_line_and_exits_4(core_install: Path, tmp_path: Path, command: str) -> None:
    (tmp_path / "obs.yaml").write_text((REPO / "tests/foundation/platforms/good.yaml").read_text())
    proc = subprocess.run([str(core_install / "bin/obs"), command], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 4, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"obs: error: obs {command} needs the 'build' extra (promql_parser, grafana_foundation_sdk, jsonschema, kubernetes_validate not installed): pip install 'obs[build]'"
    ]
    assert not (tmp_path / "build").exists()


def test_schema_and_the_model_work_with_the_core_install(core_install: Path, tmp_path: Path) -> None:
    proc = subprocess.run([str(core_install / "bin/obs"), "schema"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and '"title": "obs platform"' in proc.stdout
