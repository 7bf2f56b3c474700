"""The supervisor: readiness, clear failures, and that everything it started stops, whatever happens."""

from __future__ import annotations

import http.server
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from obs.runtime.processes import ProcessError, Supervisor, parent_death_signal_supported
from obs.runtime.readiness import (
    Readiness,
    free_port,
    http_ready,
    log_says,
    ready_when,
    tcp_ready,
    wait_until,
)
from tests.runtime.process_checks import alive, all_gone, supervised_parent

CHILD = str(Path(__file__).with_name("child.py"))


def child(sup: Supervisor, name: str, mode: str, *args: str) -> int:
    return sup.start(name, [sys.executable, CHILD, mode, *args], ready=log_says("ready"), timeout=20).pid


def http_server_argv(port: int) -> list[str]:
    return [sys.executable, "-u", "-m", "http.server", str(port), "--bind", "127.0.0.1"]


def accepts(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        return True


@pytest.mark.parametrize(
    "readiness",
    [
        pytest.param(lambda port: http_ready(f"http://127.0.0.1:{port}/"), id="http-2xx"),
        pytest.param(lambda port: tcp_ready(port), id="tcp-connect"),
        pytest.param(lambda port: ready_when(lambda: accepts(port), "a callable"), id="callable"),
        pytest.param(lambda port: log_says("Serving HTTP on 127.0.0.1"), id="log-line"),
    ],
)
def test_start_returns_once_the_process_answers(tmp_path: Path, readiness: Callable[[int], Readiness]) -> None:
    with Supervisor(tmp_path) as sup:
        port = sup.free_port()
        process = sup.start("web", http_server_argv(port), ready=readiness(port), timeout=20)
        assert process.running()
        assert accepts(port), "start() returned before the server accepted connections"
        assert process.data_dir == tmp_path / "web" and process.data_dir.is_dir()
        assert process.log_path == tmp_path / "web.log"
    assert not process.running()


def process_ready(readiness: Readiness) -> bool:
    assert readiness.probe is not None
    return readiness.probe()


def test_http_readiness_wants_a_2xx(tmp_path: Path) -> None:
    with Supervisor(tmp_path) as sup:
        port = sup.free_port()
        sup.start("web", http_server_argv(port), ready=tcp_ready(port), timeout=20)
        assert process_ready(http_ready(f"http://127.0.0.1:{port}/"))
        assert not process_ready(http_ready(f"http://127.0.0.1:{port}/no-such-file"))  # 404


def test_readiness_timeout_names_the_check_and_quotes_the_end_of_the_log(tmp_path: Path) -> None:
    port = free_port()
    with Supervisor(tmp_path) as sup:
        started = time.monotonic()
        with pytest.raises(ProcessError) as caught:
            sup.start("noisy", [sys.executable, CHILD, "noisy"], ready=tcp_ready(port), timeout=1.0)
        assert time.monotonic() - started < 5
    message = str(caught.value)
    first_line = message.splitlines()[0]
    assert first_line.startswith("noisy (pid ") and "not ready within 1 s" in first_line
    assert f"expected TCP 127.0.0.1:{port} accepts connections" in first_line
    assert str(tmp_path / "noisy.log") in first_line
    assert "  | line 30" in message and "  | line 11" in message
    assert "line 10\n" not in message, "only the last 20 lines are quoted"


def test_a_process_that_exits_before_it_is_ready_says_so_at_once(tmp_path: Path) -> None:
    with Supervisor(tmp_path) as sup:
        started = time.monotonic()
        with pytest.raises(ProcessError) as caught:
            sup.start("broken", [sys.executable, CHILD, "fail"], ready=tcp_ready(free_port()), timeout=30)
        assert time.monotonic() - started < 10, "waited for the timeout although the process had exited"
    assert "broken exited with code 3 before it was ready" in str(caught.value)
    assert "boom: cannot bind 127.0.0.1:1 (address in use)" in str(caught.value)


def test_a_missing_program_is_a_one_line_error(tmp_path: Path) -> None:
    with Supervisor(tmp_path) as sup, pytest.raises(ProcessError, match=r"^ghost: cannot start /nonexistent/ghost: .*No such file"):
        sup.start("ghost", ["/nonexistent/ghost"])


def test_an_exception_inside_the_with_block_stops_everything(tmp_path: Path) -> None:
    pids: list[int] = []
    with pytest.raises(RuntimeError, match="the test failed"), Supervisor(tmp_path) as sup:
        pids = [child(sup, name, "sleep") for name in ("a", "b", "c")]
        assert all(alive(p) for p in pids)
        raise RuntimeError("the test failed")
    assert all_gone(pids, timeout=0) == []


def test_processes_stop_in_reverse_start_order(tmp_path: Path) -> None:
    record = tmp_path / "stopped.txt"
    with Supervisor(tmp_path) as sup:
        for name in ("database", "exporter", "prometheus"):
            child(sup, name, "record-stop", str(record), name)
    assert record.read_text().split() == ["prometheus", "exporter", "database"]


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path: Path) -> None:
    with Supervisor(tmp_path, grace=0.5) as sup:
        pid = child(sup, "stubborn", "ignore-term")
        started = time.monotonic()
    assert 0.4 < time.monotonic() - started < 5
    assert sup["stubborn"].returncode == -signal.SIGKILL
    assert not alive(pid)


def test_the_whole_process_group_is_stopped(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    with Supervisor(tmp_path, grace=2) as sup:
        child(sup, "forking", "grandchild", str(pid_file))
        grandchild = int(pid_file.read_text())
        assert alive(grandchild)
    assert all_gone([grandchild], timeout=2) == [], "a member of the process group outlived the stop"


def test_the_orphans_of_a_leader_that_exited_by_itself_are_stopped(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    with Supervisor(tmp_path) as sup:
        leader = sup.start("leader", [sys.executable, CHILD, "grandchild", str(pid_file), "then-exit"])
        wait_until(lambda: not leader.running(), timeout=10, what="the leader exits")
        assert leader.returncode == 0
        grandchild = int(pid_file.read_text())
        assert alive(grandchild)
    assert all_gone([grandchild], timeout=2) == []


def test_stop_then_restart_keeps_the_log_and_the_place_in_the_stop_order(tmp_path: Path) -> None:
    record = tmp_path / "stopped.txt"
    with Supervisor(tmp_path) as sup:
        first = child(sup, "redis", "record-stop", str(record), "redis")
        child(sup, "app", "record-stop", str(record), "app")
        sup.stop("redis")
        assert not alive(first)
        restarted = sup.restart("redis")
        assert restarted.pid != first and restarted.running()
        assert [p.name for p in sup.processes] == ["redis", "app"]
        with pytest.raises(ProcessError, match="redis: already running"):
            sup.start("redis", [sys.executable, CHILD, "sleep"])
    assert record.read_text().split() == ["redis", "app", "redis"]
    assert (tmp_path / "redis.log").read_text().count("# obs supervisor: starting") == 2


def test_a_child_started_from_a_short_lived_thread_outlives_the_thread(tmp_path: Path) -> None:
    """The kernel's parent-death signal follows the forking *thread*: the supervisor forks from its own."""
    started: list[int] = []
    with Supervisor(tmp_path) as sup:
        worker = threading.Thread(target=lambda: started.append(child(sup, "redis", "sleep")))
        worker.start()
        worker.join(timeout=20)
        time.sleep(0.3)
        assert started and alive(started[0]), "the child died with the thread that asked for it"
    assert not alive(started[0])


def test_cleanups_run_in_reverse_order_with_the_processes(tmp_path: Path) -> None:
    events: list[str] = []
    record = tmp_path / "stopped.txt"
    with Supervisor(tmp_path) as sup:
        sup.on_close("sink", lambda: events.append(f"sink closed after {record.read_text().split()}"))
        child(sup, "server", "record-stop", str(record), "server")
    assert events == ["sink closed after ['server']"]


@pytest.mark.skipif(not parent_death_signal_supported(), reason="needs Linux prctl(PR_SET_PDEATHSIG)")
def test_a_parent_killed_with_sigkill_leaves_no_child_running(tmp_path: Path) -> None:
    with supervised_parent(tmp_path) as (parent, pids):
        parent.kill()
        parent.wait(10)
        assert all_gone(pids) == [], "children outlived a parent killed with SIGKILL"


@pytest.mark.parametrize(
    ("sig", "returncode"),
    [
        pytest.param(signal.SIGTERM, 128 + signal.SIGTERM, id="SIGTERM-exits-143"),
        pytest.param(signal.SIGHUP, 128 + signal.SIGHUP, id="SIGHUP-exits-129"),
        pytest.param(signal.SIGINT, -signal.SIGINT, id="SIGINT-KeyboardInterrupt"),
    ],
)
def test_a_signalled_parent_stops_its_children_in_order_and_exits(tmp_path: Path, sig: int, returncode: int) -> None:
    with supervised_parent(tmp_path) as (parent, pids):
        parent.send_signal(sig)
        assert parent.wait(20) == returncode
        assert all_gone(pids, timeout=0) == []
        assert (tmp_path / "stopped.txt").read_text().split() == ["third", "second", "first"]


def test_free_ports_are_free_and_never_repeated() -> None:
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == 50
    server = http.server.HTTPServer(("127.0.0.1", ports[-1]), http.server.BaseHTTPRequestHandler)
    server.server_close()


def test_wait_until_returns_the_value_or_names_what_did_not_happen() -> None:
    calls = iter([None, 0, {"up": 1}])
    assert wait_until(lambda: next(calls), timeout=5, interval=0.01, what="target up") == {"up": 1}

    def refusing() -> bool:
        raise ConnectionRefusedError("connection refused")

    with pytest.raises(TimeoutError, match=r"^HighErrorRate firing: not within 0.2 s \(last error: ConnectionRefusedError: connection refused\)$"):
        wait_until(refusing, timeout=0.2, interval=0.01, what="HighErrorRate firing")
