"""Malformed and hostile platform files: each is refused with one line naming the place and the fix
(exit 3), never a traceback, and nothing is written; a YAML platform never runs code."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).parents[2]
GOOD = (REPO / "tests/foundation/platforms/good.yaml").read_text()


def obs(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "obs", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def good() -> dict:  # type: ignore[type-arg]
    data: dict = yaml.safe_load(GOOD)  # type: ignore[type-arg]
    return data


def _error_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    assert "Traceback" not in proc.stderr, proc.stderr
    return [ln for ln in proc.stderr.splitlines() if ln.strip()]


BOMB = "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]\n"
    for i in range(8)
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace("infra_team: core\n", "infra_team: core\ninfra_team: other\n"), "key 'infra_team' appears twice in one mapping"),
        (GOOD + "services: []\n", "key 'services' appears twice in one mapping"),
        (BOMB, "aliases"),
        ("a:\n" + "".join("  " * i + "- \n" for i in range(1, 200)), "nested deeper than"),
        (GOOD.replace("objective: 0.999", "objective: .nan"), "objective: nan is not a finite number"),
        (GOOD.replace("objective: 0.999", "objective: 99.9"), "objective: 99.9 must be between 0 and 1"),
        (GOOD.replace("  - name: prod\n", "  - name: prod\n    scrape_interval: 0s\n"), "scrape_interval: '0s' is zero"),
        (GOOD.replace("window: 28d", "window: 5 min"), "window: '5 min' is not a duration"),
        (GOOD.replace("address: db:5432", 'address: "db:5432\\n"'), "is not host:port"),
        (GOOD.replace("address: db:5432", "address: db:" + "\uff15\uff14\uff13\uff12"), "is not host:port"),
        (GOOD.replace("probe_url: https://site.example.org/", 'probe_url: "https://site.example.org/\\n"'), "is not an http(s) URL"),
        (GOOD.replace("  - name: api\n", "  - name: prometheus\n").replace("[db]", "[db]"), "'prometheus' is the name of a job or component obs generates"),
        (GOOD.replace("  - name: db\n", "  - name: alertmanager\n").replace("depends_on: [db]", "depends_on: [alertmanager]"), "'alertmanager' is the name of a job or component obs generates"),
        (GOOD.replace("    team: core\n    tier: 1\n", "    team: core\n    tier: 1\n    tier: 2\n", 1), "key 'tier' appears twice"),
    ],
    ids=["duplicate top key", "second services list", "alias bomb", "deep nesting", "nan", "percent objective", "zero interval", "duration with a space", "newline in host:port", "non-ASCII digits", "newline in URL", "service named prometheus", "dependency named alertmanager", "duplicate nested key"],
)
def test_a_bad_platform_file_is_one_line_per_problem_exit_3_and_writes_nothing(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "p.yaml").write_text(text, encoding="utf-8")
    proc = obs("build", "--platform", "p.yaml", cwd=tmp_path, timeout=60)
    assert proc.returncode == 3, proc.stderr
    lines = _error_lines(proc)
    assert any(message in ln for ln in lines), lines
    assert lines[-1] == "nothing was written"
    assert sum(len(ln) for ln in lines) < 5000, "an error message stays short, whatever the input"
    assert not (tmp_path / "build").exists()


def test_five_mistakes_are_five_lines_in_one_run(tmp_path: Path) -> None:
    text = (
        GOOD.replace("objective: 0.999", "objective: 1.2")
        .replace("tier: 1", "tier: 7")
        .replace("window: 28d", "window: 5 min")
        .replace("kind: postgres", "kind: mysql")
        .replace("name: school", "name: School")
    )
    (tmp_path / "p.yaml").write_text(text)
    proc = obs("build", "--platform", "p.yaml", cwd=tmp_path)
    assert proc.returncode == 3
    lines = _error_lines(proc)
    assert lines[0] == "obs: error: 5 problems:"
    assert [ln.split(": ")[1] for ln in lines[1:6]] == [
        "name",
        "services[api].tier",
        "services[api].slos[availability].objective",
        "services[api].slos[latency].window",
        "dependencies[db].kind",
    ]


def test_non_utf8_yaml_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_bytes(GOOD.encode("utf-8").replace(b"school", b"sch\xf6ol"))
    proc = obs("build", "--platform", "p.yaml", cwd=tmp_path)
    assert proc.returncode == 3 and "is not UTF-8 text" in proc.stderr and "Traceback" not in proc.stderr


def test_a_folder_given_as_platform_says_to_pass_the_file(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    proc = obs("build", "--platform", "conf", cwd=tmp_path)
    assert proc.returncode == 3 and "is a folder" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("raise RuntimeError('db password missing')", "raised RuntimeError: db password missing"),
        ("import sys\nsys.exit(0)", "called sys.exit(0)"),
        ("from obs import Platform\nplatform = Platform(name='Bad', services=(), environments=())", "name: 'Bad' is not a valid platform name"),
        ("x = 1", "does not export `platform`"),
    ],
)
def test_a_python_platform_that_fails_is_one_line_and_exit_3(tmp_path: Path, code: str, message: str) -> None:
    (tmp_path / "p.py").write_text(code + "\n")
    proc = obs("build", "--platform", "p.py", cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "build").exists()


def test_sys_exit_in_a_dashboard_module_is_an_error_not_a_silent_success(tmp_path: Path) -> None:
    (tmp_path / "dashboards").mkdir()
    (tmp_path / "dashboards" / "quit.py").write_text("import sys\nsys.exit(0)\n")
    (tmp_path / "p.py").write_text(
        "import dataclasses\nfrom edu_platform import platform as edu\n"
        "platform = dataclasses.replace(edu, alerts=(), rule_tests=(), dashboards=('dashboards',))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "obs", "build", "--platform", "p.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    assert "dashboards/quit.py: called sys.exit(0)" in proc.stderr
    assert not (tmp_path / "build").exists()


def test_a_yaml_platform_never_runs_code_not_even_for_list(tmp_path: Path) -> None:
    canary = tmp_path / "ran"
    (tmp_path / "dashboards").mkdir()
    (tmp_path / "dashboards" / "evil.dashboard.py").write_text(f"open({str(canary)!r}, 'w').write('x')\n")
    data = good()
    data["dashboards"] = ["dashboards"]
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(data))
    for command in ("list", "build"):
        proc = obs(command, "--platform", "p.yaml", cwd=tmp_path)
        assert proc.returncode == 3, proc.stderr
        assert "dashboards/evil.dashboard.py: is Python, and a YAML platform never runs code" in proc.stderr
    assert not canary.exists()


def test_schema_piped_into_head_prints_no_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        f"{sys.executable} -m obs schema | head -3", shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert proc.stdout.count("\n") == 3
    assert proc.stderr == ""


# --- the file system fighting back ----------------------------------------------------------------


@contextlib.contextmanager
def tmpfs(where: Path, options: str) -> Iterator[Path]:
    where.mkdir()
    if shutil.which("mount") is None or subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True).returncode != 0:
        pytest.skip("mounting a tmpfs needs root")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


EDU = str(REPO / "edu_platform.py")


def test_a_full_disk_is_one_line_and_the_previous_output_stays(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", "size=256k") as disk:
        first = obs("build", "--platform", EDU, "--only", "prometheus", "--out", str(disk / "build"), "-q", cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        before = sorted(p.read_bytes() for p in (disk / "build").rglob("*") if p.is_file())
        proc = obs("build", "--platform", EDU, "--out", str(disk / "build"), cwd=tmp_path)
        assert proc.returncode == 5, proc.stderr
        assert "No space left on device" in proc.stderr and "is unchanged" in proc.stderr and "Traceback" not in proc.stderr
        assert sorted(p.read_bytes() for p in (disk / "build").rglob("*") if p.is_file()) == before
        assert [p.name for p in disk.iterdir()] == ["build"], "the temporary tree is removed"


def test_a_read_only_file_system_is_one_line(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", "ro,size=64k") as ro:
        proc = obs("build", "--platform", EDU, "--only", "prometheus", "--out", str(ro / "build"), cwd=tmp_path)
        assert proc.returncode == 5, proc.stderr
        assert "Read-only file system" in proc.stderr and "Traceback" not in proc.stderr


def test_a_mount_point_as_out_says_to_build_inside_it(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "build", "size=4m"):
        proc = obs("build", "--platform", EDU, "--only", "prometheus", cwd=tmp_path)
        assert proc.returncode == 5, proc.stderr
        assert "is a mount point" in proc.stderr and "--out build/stack" in proc.stderr
        proc = obs("build", "--platform", EDU, "--only", "prometheus", "--out", "build/stack", "-q", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
