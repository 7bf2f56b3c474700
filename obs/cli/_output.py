"""How the CLI talks: progress on stderr (silenced by --quiet and --format json), results on
stdout as text or JSON, errors as one line."""

from __future__ import annotations

import json
import sys
from typing import Any


class Output:
    """Progress goes to stderr (silenced by --quiet); results go to stdout as text or JSON."""

    def __init__(self, quiet: bool, fmt: str) -> None:
        self.json = fmt == "json"
        self.quiet = quiet or self.json

    def progress(self, message: str) -> None:
        if not self.quiet:
            print(message, file=sys.stderr, flush=True)

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
