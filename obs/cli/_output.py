"""How the CLI talks: progress on stderr (silenced by --quiet and --format json), results on
stdout as text or JSON, errors as one line.

On a terminal, a long step keeps one status line up to date (:meth:`Output.live`: done so far,
counts); elsewhere (CI logs) only the finished lines are written."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

#: Least seconds between two redraws of the status line.
LIVE_INTERVAL = 0.1


class Output:
    """Progress goes to stderr (silenced by --quiet); results go to stdout as text or JSON."""

    def __init__(self, quiet: bool, fmt: str) -> None:
        self.json = fmt == "json"
        self.quiet = quiet or self.json
        self.terminal = not self.quiet and sys.stderr.isatty()
        self._live = False
        self._drawn = 0.0

    def progress(self, message: str) -> None:
        if not self.quiet:
            self._clear()
            print(message, file=sys.stderr, flush=True)

    def live(self, message: str, force: bool = False) -> None:
        """Redraw the status line (on a terminal only; at most every :data:`LIVE_INTERVAL` s
        unless ``force``)."""
        now = time.monotonic()
        if not self.terminal or (not force and now - self._drawn < LIVE_INTERVAL):
            return
        self._drawn = now
        sys.stderr.write("\r\x1b[K" + message)
        sys.stderr.flush()
        self._live = True

    def _clear(self) -> None:
        if self._live:
            sys.stderr.write("\r\x1b[K")
            self._live = False

    def result(self, text: str, data: dict[str, Any]) -> None:
        if self.json:
            print(json.dumps(data, indent=2, sort_keys=True))
        elif text:
            print(text)

    def error(self, message: str, code: int) -> int:
        if self.json:
            print(json.dumps({"ok": False, "error": message, "exit_code": code}, indent=2, sort_keys=True))
        else:
            print(f"obs: error: {message}", file=sys.stderr)
        return code

    def timings(self, timings: dict[str, float]) -> None:
        """Each phase's time, at the end of a long run."""
        if timings:
            self.progress("time: " + ", ".join(f"{name} {seconds:.1f}s" for name, seconds in timings.items()))


__all__ = ["Output"]
