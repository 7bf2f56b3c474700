"""A child process for the supervisor's tests: ``python child.py MODE [ARGS]``.

Each mode prints ``ready`` once its signal handling is in place, so a test can wait for that line
before it signals the process.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path


def ready() -> None:
    print("ready", flush=True)


def main(mode: str, *args: str) -> None:
    if mode == "sleep":
        ready()
    elif mode == "noisy":
        for n in range(1, 31):
            print(f"line {n}", flush=True)
    elif mode == "fail":
        print("boom: cannot bind 127.0.0.1:1 (address in use)", file=sys.stderr, flush=True)
        sys.exit(3)
    elif mode == "ignore-term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        ready()
    elif mode == "record-stop":
        record, name = Path(args[0]), args[1]

        def on_term(signum: int, frame: object) -> None:
            with record.open("a") as out:
                out.write(f"{name}\n")
            sys.exit(0)

        signal.signal(signal.SIGTERM, on_term)
        ready()
    elif mode == "grandchild":
        # A member of this process group that ignores SIGTERM and outlives its parent: only the
        # supervisor's SIGKILL to the whole group ends it.
        pid_file = Path(args[0])
        code = (
            "import os, signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(120)"
        )
        subprocess.Popen([sys.executable, "-c", code, str(pid_file)])
        while not pid_file.exists() or not pid_file.read_text():
            time.sleep(0.01)
        ready()
        if args[1:] == ("then-exit",):  # a leader that ends by itself and leaves its child behind
            sys.exit(0)
    else:
        raise SystemExit(f"unknown mode {mode}")
    time.sleep(120)


if __name__ == "__main__":
    main(*sys.argv[1:])
