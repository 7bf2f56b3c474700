"""Start real servers as child processes on 127.0.0.1 and make sure every one of them stops.

A :class:`Supervisor` owns one run directory. Each process it starts gets a private folder
``<run_dir>/<name>/`` and a log file ``<run_dir>/<name>.log`` (stdout and stderr), runs in its own
session (process group), and is stopped with its whole group, in reverse start order:

- when the ``with`` block ends, normally or by an exception;
- on SIGTERM or SIGHUP (turned into ``SystemExit(128 + signal)`` so the ``with`` block unwinds) and
  on SIGINT (Python's ``KeyboardInterrupt``);
- on Linux, also when this process is killed with SIGKILL: each child asks the kernel for a
  parent-death signal (``prctl(PR_SET_PDEATHSIG)``) before it executes its program.

The parent-death signal fires when the *thread* that forked the child ends, so every child is
forked by one spawner thread that lives as long as the supervisor: a child started from a
short-lived worker thread (a fault injector restarting Redis) is not killed when that thread ends.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType

from obs.errors import ObsError
from obs.runtime.readiness import Readiness, free_port

#: Signals that end the run: the supervisor stops its children, then the program exits.
_EXIT_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
_PR_SET_PDEATHSIG = 1


class ProcessError(ObsError):
    """A child process could not be started, died before it was ready, or never became ready."""


def _load_prctl() -> Callable[[int, int, int, int, int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl


#: Resolved once, before any fork: the child must not load libraries between fork and exec.
_PRCTL = _load_prctl()


def parent_death_signal_supported() -> bool:
    """Whether children are killed by the kernel when this process dies (Linux prctl)."""
    return _PRCTL is not None


def _child_setup(death_signal: int) -> Callable[[], None] | None:
    """The function the child runs between fork and exec: ask for ``death_signal`` when the parent dies."""
    prctl = _PRCTL
    if prctl is None:
        return None
    parent = os.getpid()

    def setup() -> None:
        prctl(_PR_SET_PDEATHSIG, death_signal, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), death_signal)

    return setup


@dataclass(slots=True)
class ManagedProcess:
    """One child process: its command, private folder, log file and stop behaviour."""

    name: str
    argv: tuple[str, ...]
    data_dir: Path
    log_path: Path
    popen: subprocess.Popen[bytes]
    stop_signal: int = signal.SIGTERM
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    user: str | None = None
    ready: Readiness | None = None
    #: Where this run's output starts in the log file (earlier runs of the same name come before).
    log_offset: int = 0
    started_at: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        """The exit code (negative: killed by that signal), or None while it runs.

        An exited process is not reaped before :meth:`stop`: as a zombie it keeps its pid, so the
        process group id that :meth:`stop` signals can never belong to someone else.
        """
        if self.popen.returncode is not None:
            return self.popen.returncode
        return _exit_status_unreaped(self.popen)

    def running(self) -> bool:
        return self.returncode is None

    def log_text(self, last_bytes: int | None = None) -> str:
        """What this run of the process has written to its log (its last ``last_bytes`` only, if given)."""
        try:
            with self.log_path.open("rb") as log:
                end = log.seek(0, os.SEEK_END)
                log.seek(self.log_offset if last_bytes is None else max(self.log_offset, end - last_bytes))
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 20) -> str:
        """The last ``lines`` lines this run wrote (what a failing server said last)."""
        return "\n".join(self.log_text(last_bytes=64_000).splitlines()[-lines:])

    def is_ready(self, ready: Readiness) -> bool:
        if ready.log_text is not None and ready.log_text not in self.log_text():
            return False
        return ready.probe is None or ready.probe()

    def stop(self, grace: float = 5.0) -> int | None:
        """Send the stop signal to the process group, wait ``grace`` seconds, then SIGKILL the group.

        The leader is reaped only after the group's stragglers (the orphans of a leader that crashed
        or that left its children behind) are killed, so the group id is still its own. Returns the
        exit code; a process stopped before is not signalled again.
        """
        if self.popen.returncode is not None:
            return self.popen.returncode
        pgid = self.pid
        if self.returncode is None:
            _signal_group(pgid, self.stop_signal)
            deadline = time.monotonic() + grace
            while self.returncode is None and time.monotonic() < deadline:
                time.sleep(0.02)
        _signal_group(pgid, signal.SIGKILL)
        try:
            return self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:  # unkillable (D state): say so rather than hang
            return None


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _exit_status_unreaped(popen: subprocess.Popen[bytes]) -> int | None:
    """The exit status of an exited child, leaving it a zombie (``waitid`` with ``WNOWAIT``)."""
    if not hasattr(os, "waitid"):  # no waitid (macOS before Python 3.13): reap
        return popen.poll()
    try:
        info = os.waitid(os.P_PID, popen.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:  # reaped elsewhere
        return popen.poll()
    if info is None:
        return None
    return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status


@dataclass(frozen=True, slots=True)
class _Cleanup:
    name: str
    callback: Callable[[], object]


class Supervisor:
    """Starts child processes under one run directory and stops all of them, whatever happens.

    ``run_dir`` defaults to a new ``obs-run-*`` folder in the temp folder; it is never deleted, so
    the logs stay to be read. ``grace`` is how long a process may take to stop before SIGKILL.

    ::

        with Supervisor(run_dir) as sup:
            port = sup.free_port()
            sup.start("redis", ["redis-server", "--port", str(port)], ready=tcp_ready(port))
            ...
    """

    def __init__(self, run_dir: Path | str | None = None, *, grace: float = 5.0, handle_signals: bool = True) -> None:
        self.run_dir = Path(run_dir) if run_dir is not None else Path(tempfile.mkdtemp(prefix="obs-run-"))
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.grace = grace
        self._handle_signals = handle_signals
        self._resources: list[ManagedProcess | _Cleanup] = []
        self._lock = threading.RLock()
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="obs-spawner")
        self._previous_handlers: dict[int, signal._HANDLER] = {}
        self._closing = False
        self._closed = False
        self._signal_during_close: int | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> Supervisor:
        if self._handle_signals and threading.current_thread() is threading.main_thread():
            for sig in (*_EXIT_SIGNALS, signal.SIGINT):
                previous = signal.getsignal(sig)
                if previous is None or (sig == signal.SIGINT and previous is not signal.default_int_handler):
                    continue  # set outside Python, or SIGINT ignored or handled by the program: leave it so
                self._previous_handlers[sig] = previous
                signal.signal(sig, self._on_signal)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self._closing:
            self._signal_during_close = signum  # finish stopping first; delivered again afterwards
            return
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise SystemExit(128 + signum)

    def close(self) -> None:
        """Stop every process (reverse start order) and run every cleanup; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closing = True
            errors: list[str] = []
            for resource in reversed(self._resources):
                try:
                    if isinstance(resource, ManagedProcess):
                        resource.stop(self.grace)
                    else:
                        resource.callback()
                except Exception as exc:  # one failed cleanup must not leave the others running
                    errors.append(f"{resource.name}: {exc}")
            self._spawner.shutdown(wait=True)
            self._closed = True
        for sig, handler in self._previous_handlers.items():
            signal.signal(sig, handler)
        self._previous_handlers.clear()
        if self._signal_during_close is not None:
            signal.raise_signal(self._signal_during_close)
        if errors:
            raise ProcessError("stopping: " + "; ".join(errors))

    # -- folders and ports -----------------------------------------------------------------------

    @staticmethod
    def free_port() -> int:
        return free_port()

    def data_dir(self, name: str) -> Path:
        """The private folder of ``name`` (created)."""
        path = self.run_dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def log_path(self, name: str) -> Path:
        return self.run_dir / f"{name}.log"

    # -- processes -------------------------------------------------------------------------------

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        ready: Readiness | None = None,
        timeout: float = 30.0,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        stop_signal: int = signal.SIGTERM,
        user: str | None = None,
    ) -> ManagedProcess:
        """Start ``argv`` as ``name`` and wait until ``ready`` says it serves (at most ``timeout`` s).

        ``env`` replaces the environment (``None``: inherit). ``stop_signal`` is sent to the group on
        stop and by the kernel if this process dies. ``user`` runs the child as that user (root only).
        Raises :class:`ProcessError` quoting the end of the log when the process exits or is not ready.
        """
        with self._lock:
            if self._closing:
                raise ProcessError(f"{name}: the supervisor is stopping; nothing new is started")
            existing = self._find(name)
            if existing is not None and existing.running():
                raise ProcessError(f"{name}: already running (pid {existing.pid}); pick another name")
            process = self._spawn(name, tuple(argv), env, cwd, stop_signal, user, ready)
            if existing is not None:
                self._resources[self._resources.index(existing)] = process  # keep its place in the stop order
            else:
                self._resources.append(process)
        if ready is not None:
            self.wait_ready(process, ready, timeout)
        return process

    def _spawn(
        self,
        name: str,
        argv: tuple[str, ...],
        env: Mapping[str, str] | None,
        cwd: Path | None,
        stop_signal: int,
        user: str | None,
        ready: Readiness | None,
    ) -> ManagedProcess:
        data_dir = self.data_dir(name)
        log_path = self.log_path(name)
        with log_path.open("ab") as log:
            offset = log.tell()
            log.write(f"# obs supervisor: starting {shlex.join(argv)}\n".encode())
            log.flush()

            def popen() -> subprocess.Popen[bytes]:
                return subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    cwd=cwd or data_dir, env=dict(env) if env is not None else None,
                    start_new_session=True, preexec_fn=_child_setup(stop_signal), user=user,
                )  # fmt: skip

            try:
                child = self._spawner.submit(popen).result()
            except OSError as exc:
                raise ProcessError(f"{name}: cannot start {argv[0]}: {exc}") from exc
        return ManagedProcess(name, argv, data_dir, log_path, child, stop_signal, env, cwd, user, ready, offset)

    def wait_ready(self, process: ManagedProcess, ready: Readiness, timeout: float = 30.0) -> None:
        """Poll ``ready`` until it passes; raise if the process exits first or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while True:
            code = process.returncode
            if code is not None:
                raise ProcessError(
                    f"{process.name} exited with code {code} before it was ready ({ready.what}); "
                    f"last lines of {process.log_path}:\n{_indent(process.log_tail())}"
                )
            try:
                if process.is_ready(ready):
                    return
            except Exception:  # a probe that raises means "not yet"
                pass
            if time.monotonic() >= deadline:
                raise ProcessError(
                    f"{process.name} (pid {process.pid}) not ready within {timeout:g} s: expected {ready.what}; "
                    f"last lines of {process.log_path}:\n{_indent(process.log_tail())}"
                )
            time.sleep(0.05)

    def stop(self, name: str) -> int | None:
        """Stop one process now (e.g. a dependency failure); it keeps its place for :meth:`restart`."""
        process = self[name]
        return process.stop(self.grace)

    def restart(self, name: str, timeout: float = 30.0) -> ManagedProcess:
        """Start a stopped process again with the same command, folder, log and readiness check."""
        old = self[name]
        if old.running():
            old.stop(self.grace)
        return self.start(
            name, old.argv, ready=old.ready, timeout=timeout, env=old.env, cwd=old.cwd,
            stop_signal=old.stop_signal, user=old.user,
        )  # fmt: skip

    def on_close(self, name: str, callback: Callable[[], object]) -> None:
        """Run ``callback`` on close, in reverse order with the processes (e.g. an in-process sink)."""
        with self._lock:
            self._resources.append(_Cleanup(name, callback))

    def _find(self, name: str) -> ManagedProcess | None:
        for resource in self._resources:
            if isinstance(resource, ManagedProcess) and resource.name == name:
                return resource
        return None

    def __getitem__(self, name: str) -> ManagedProcess:
        found = self._find(name)
        if found is None:
            raise KeyError(f"no process named {name!r}; started: {', '.join(p.name for p in self.processes) or 'none'}")
        return found

    @property
    def processes(self) -> list[ManagedProcess]:
        """Every process started, in start order."""
        return [r for r in self._resources if isinstance(r, ManagedProcess)]


def _indent(text: str) -> str:
    return "\n".join(f"  | {line}" for line in text.splitlines()) or "  | (empty log)"


__all__ = ["ManagedProcess", "ProcessError", "Supervisor", "parent_death_signal_supported"]
