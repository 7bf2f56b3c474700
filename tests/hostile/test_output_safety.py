"""obs writes only into a folder it owns, replaces it in one atomic step whatever kills it, and a
partial or failed run leaves everything else byte-identical."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]
EDU = str(REPO / "edu_platform.py")


def obs(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "obs", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def tree(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def listing(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


# --- where obs refuses to write -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("out", "message"),
    [
        (".", "is the current folder or above it"),
        ("", "--out is empty"),
        ("..", "is the current folder or above it"),
        ("notes.txt", "is not a folder"),
        ("mine", "is not empty and holds no manifest.json"),
    ],
)
def test_an_out_obs_does_not_own_is_refused_and_nothing_changes(tmp_path: Path, out: str, message: str) -> None:
    (tmp_path / "platform.yaml").write_text((REPO / "tests/foundation/platforms/good.yaml").read_text())
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.md").write_text("keep")
    before = tree(tmp_path)
    proc = obs("build", "--platform", "platform.yaml", "--out", out, "--only", "prometheus", cwd=tmp_path)
    assert proc.returncode == 5, proc.stderr
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert tree(tmp_path) == before


def test_an_out_holding_the_platform_file_is_refused(tmp_path: Path) -> None:
    project = tmp_path / "repo"
    (project / "platform").mkdir(parents=True)
    (project / "platform" / "obs.yaml").write_text((REPO / "tests/foundation/platforms/good.yaml").read_text())
    proc = obs("build", "--platform", "repo/platform/obs.yaml", "--out", "repo", cwd=tmp_path)
    assert proc.returncode == 5 and "holds" in proc.stderr, proc.stderr
    assert (project / "platform" / "obs.yaml").exists()


def test_hand_placed_files_in_the_output_stop_the_build_instead_of_vanishing(tmp_path: Path) -> None:
    assert obs("build", "--platform", EDU, "--only", "prometheus", "-q", cwd=tmp_path).returncode == 0
    (tmp_path / "build" / "my-notes.md").write_text("mine")
    proc = obs("build", "--platform", EDU, "--only", "prometheus", "-q", cwd=tmp_path)
    assert proc.returncode == 5 and "holds files obs did not write (my-notes.md)" in proc.stderr, proc.stderr
    assert (tmp_path / "build" / "my-notes.md").read_text() == "mine"


# --- partial runs ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def full_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("full")
    proc = obs("build", "--platform", EDU, "-q", cwd=root)
    assert proc.returncode == 0, proc.stderr
    return root


def _copy(src: Path, dst: Path) -> None:
    subprocess.run(["cp", "-a", str(src), str(dst)], check=True)


@pytest.mark.parametrize(
    "args",
    [("--only", "rules"), ("--env", "dev"), ("--env", "staging", "--only", "grafana", "--only", "alertmanager")],
    ids=["only rules", "env dev", "staging grafana+alertmanager"],
)
def test_a_partial_build_leaves_everything_else_byte_identical(full_build: Path, tmp_path: Path, args: tuple[str, ...]) -> None:
    _copy(full_build / "build", tmp_path / "build")
    before = tree(tmp_path / "build")
    proc = obs("build", "--platform", EDU, "-q", *args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    after = tree(tmp_path / "build")
    assert {k: v for k, v in after.items() if k != "manifest.json"} == {k: v for k, v in before.items() if k != "manifest.json"}
    manifest = json.loads((tmp_path / "build" / "manifest.json").read_text())
    assert set(manifest["files"]) == set(after) - {"manifest.json"}, "the manifest lists every file on disk"
    assert manifest["files"] == {k: v for k, v in after.items() if k != "manifest.json"}


def test_check_and_test_read_the_output_and_never_rewrite_it(full_build: Path, tmp_path: Path) -> None:
    _copy(full_build / "build", tmp_path / "build")
    before = tree(tmp_path / "build")
    for command in (("check", "--only", "rules", "--env", "dev"), ("test", "--only", "alertmanager", "--env", "dev")):
        proc = obs(*command, "-q", cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert tree(tmp_path / "build") == before


def test_check_without_a_build_says_to_build_first(tmp_path: Path) -> None:
    proc = obs("check", "--out", "nothing-here", cwd=tmp_path)
    assert proc.returncode == 5
    assert "nothing built in nothing-here/" in proc.stderr and "run `obs build` first" in proc.stderr
    assert not (tmp_path / "nothing-here").exists()


def test_output_follows_the_umask(tmp_path: Path) -> None:
    script = f"import os, sys; os.umask(0o022); sys.argv=['obs','build','--platform',{EDU!r},'--only','prometheus','-q']; from obs.cli import main; sys.exit(main())"
    assert subprocess.run([sys.executable, "-c", script], cwd=tmp_path, timeout=300).returncode == 0
    assert (tmp_path / "build").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "build" / "prod" / "prometheus" / "prometheus.yml").stat().st_mode & 0o777 == 0o644


# --- kills at every step of the swap ----------------------------------------------------------------

KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    import obs.writer as w
    step = sys.argv[1]

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    if step == "while-writing":
        real = Path.write_bytes
        count = [0]
        def write_bytes(self, data):
            count[0] += 1
            if count[0] == 20:
                die()
            return real(self, data)
        Path.write_bytes = write_bytes
    elif step == "before-swap":
        w._swap = lambda tmp, out: die()
    elif step == "after-exchange":
        real_exchange = w._exchange
        def exchange(a, b):
            real_exchange(a, b)
            die()
        w._exchange = exchange
    elif step.startswith("fallback"):
        w._exchange = lambda a, b: False
        real_rename = os.rename
        calls = [0]
        def rename(a, b):
            real_rename(a, b)
            calls[0] += 1
            if calls[0] == (1 if step == "fallback-between-renames" else 2):
                die()
        w.os.rename = rename
    sys.argv = ["obs", "build", "--platform", sys.argv[2], "--only", "prometheus", "--only", "exporters", "-q"]
    from obs.cli import main
    sys.exit(main())
    """
)


@pytest.mark.parametrize("step", ["while-writing", "before-swap", "after-exchange", "fallback-after-renames"])
def test_a_kill_at_any_step_leaves_the_old_or_the_new_tree_and_the_next_run_cleans_up(tmp_path: Path, step: str) -> None:
    # The old tree: prometheus only. The new one adds the exporters.
    assert obs("build", "--platform", EDU, "--only", "prometheus", "-q", cwd=tmp_path).returncode == 0
    old = tree(tmp_path / "build")
    proc = subprocess.run([sys.executable, "-c", KILLER, step, EDU], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert (tmp_path / "build").is_dir(), f"no build/ after a kill {step}"
    now = tree(tmp_path / "build")
    new_files = {p for p in now if p.split("/", 2)[1:2] == ["exporters"]}
    assert now == old or (len(new_files) > 0 and "manifest.json" in now), f"{step}: neither the old nor a whole new tree"
    if now != old:
        manifest = json.loads((tmp_path / "build" / "manifest.json").read_text())
        assert manifest["files"] == {k: v for k, v in now.items() if k != "manifest.json"}
    # The next run removes what the killed one left beside build/ and builds normally.
    assert obs("build", "--platform", EDU, "--only", "prometheus", "--only", "exporters", "-q", cwd=tmp_path).returncode == 0
    assert [p.name for p in tmp_path.iterdir()] == ["build"], listing(tmp_path)


def test_without_an_atomic_exchange_a_kill_between_the_renames_is_undone_by_the_next_run(tmp_path: Path) -> None:
    # Where renameat2(RENAME_EXCHANGE) is missing, the swap is two renames: between them the old
    # tree waits beside build/, and the next run puts it back before anything else.
    assert obs("build", "--platform", EDU, "--only", "prometheus", "-q", cwd=tmp_path).returncode == 0
    old = tree(tmp_path / "build")
    proc = subprocess.run([sys.executable, "-c", KILLER, "fallback-between-renames", EDU], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL
    assert not (tmp_path / "build").exists()
    from obs.writer import recover

    recover(tmp_path / "build")
    assert tree(tmp_path / "build") == old
    assert os.listdir(tmp_path) == ["build"]
