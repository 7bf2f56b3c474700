"""Find and run the external validators (promtool, amtool) with a timeout.

Order: the command in ``OBS_PROMTOOL`` / ``OBS_AMTOOL`` (shell words), then the binary on PATH
(Debian packages ``prometheus`` and ``prometheus-alertmanager``), then the official image through
``docker run`` when a Docker engine answers. Otherwise :class:`~obs.errors.ToolNotFoundError` says
how to install it.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from obs.errors import ToolNotFoundError


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    env_var: str
    binary: str
    image: str
    install_hint: str
    #: The binary's name inside the image, where it differs from Debian's.
    image_binary: str = ""


TOOLS: dict[str, ToolSpec] = {
    "promtool": ToolSpec(
        "promtool", "OBS_PROMTOOL", "promtool", "prom/prometheus:v2.53.0",
        "apt-get install -y prometheus (Debian), or set OBS_PROMTOOL to a promtool command",
    ),
    "amtool": ToolSpec(
        "amtool", "OBS_AMTOOL", "amtool", "prom/alertmanager:v0.27.0",
        "apt-get install -y prometheus-alertmanager (Debian), or set OBS_AMTOOL to an amtool command",
    ),
    "blackbox_exporter": ToolSpec(
        "blackbox_exporter", "OBS_BLACKBOX_EXPORTER", "prometheus-blackbox-exporter", "prom/blackbox-exporter:v0.25.0",
        "apt-get install -y prometheus-blackbox-exporter (Debian), or set OBS_BLACKBOX_EXPORTER to its command",
        image_binary="blackbox_exporter",
    ),
}


@dataclass(frozen=True, slots=True)
class ToolResult:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def output(self) -> str:
        return (self.stdout + self.stderr).strip()


@cache
def _docker_answers() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def find_tool(name: str, cwd: Path | None = None) -> list[str]:
    """The command prefix that runs ``name``; raises ToolNotFoundError with the install hint."""
    spec = TOOLS[name]
    override = os.environ.get(spec.env_var)
    if override:
        return shlex.split(override)
    found = shutil.which(spec.binary)
    if found:
        return [found]
    if _docker_answers():
        workdir = str((cwd or Path.cwd()).resolve())
        return ["docker", "run", "--rm", "-v", f"{workdir}:{workdir}", "-w", workdir, "--entrypoint", spec.image_binary or spec.binary, spec.image]
    raise ToolNotFoundError(f"{name} not found on PATH and no Docker engine answers: {spec.install_hint}")


def available(name: str) -> bool:
    try:
        find_tool(name)
    except ToolNotFoundError:
        return False
    return True


def run_tool(name: str, args: list[str], cwd: Path, timeout: float = 120) -> ToolResult:
    """Run a tool in ``cwd``; a hang becomes a failed result, not a stuck build."""
    command = [*find_tool(name, cwd), *args]
    try:
        proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return ToolResult(tuple(command), 124, "", f"{name} timed out after {timeout:g} s")
    return ToolResult(tuple(command), proc.returncode, proc.stdout, proc.stderr)


__all__ = ["TOOLS", "ToolResult", "ToolSpec", "available", "find_tool", "run_tool"]
