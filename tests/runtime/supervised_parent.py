"""A program that supervises children, for the tests that kill it: ``python supervised_parent.py RUN_DIR [servers]``.

Starts three children that record the order they are stopped in (or, with ``servers``, a real
PostgreSQL and Redis), prints their pids as one JSON line, then sleeps until it is signalled or killed.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path

from obs.runtime.processes import Supervisor
from obs.runtime.readiness import log_says
from obs.runtime.servers import start_postgres, start_redis

CHILD = str(Path(__file__).with_name("child.py"))


def main(run_dir: Path, mode: str = "children") -> None:
    # As started from a shell: a parent that ignores SIGINT (a pytest-xdist worker does) passes the
    # ignoring on, and Python then installs no KeyboardInterrupt handler.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    record = run_dir / "stopped.txt"
    with Supervisor(run_dir, grace=3) as sup:
        if mode == "servers":
            start_postgres(sup)
            start_redis(sup)
        else:
            for name in ("first", "second", "third"):
                sup.start(name, [sys.executable, CHILD, "record-stop", str(record), name], ready=log_says("ready"), timeout=20)
        print(json.dumps([p.pid for p in sup.processes]), flush=True)
        time.sleep(120)


if __name__ == "__main__":
    main(Path(sys.argv[1]), *sys.argv[2:])
