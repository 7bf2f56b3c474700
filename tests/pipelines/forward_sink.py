"""A Fluentd Forward-protocol receiver for tests: msgpack over TCP on 127.0.0.1.

It accepts the three event modes of the protocol (Message, Forward, PackedForward), answers
``{"ack": chunk}`` when asked, and records ``(tag, time, record)``. ``ack=False`` makes it swallow
data without acknowledging (a wedged receiver); ``stop()`` closes everything it opened.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import msgpack


@dataclass
class Event:
    tag: str
    time: float
    record: dict[str, Any]
    raw_time: Any = None


@dataclass
class ForwardSink:
    ack: bool = True
    events: list[Event] = field(default_factory=list)
    chunks: list[str] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", self.port))
        self._server.listen(16)
        self._server.settimeout(0.1)
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        accept = threading.Thread(target=self._accept, name="forward-sink-accept", daemon=True)
        accept.start()
        self._threads.append(accept)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except (TimeoutError, OSError):
                continue
            conn.settimeout(0.1)
            with self._lock:
                self._conns.append(conn)
            t = threading.Thread(target=self._serve, args=(conn,), name="forward-sink-conn", daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, conn: socket.socket) -> None:
        unpacker = msgpack.Unpacker(raw=False, ext_hook=lambda code, data: msgpack.ExtType(code, data))
        while not self._stop.is_set():
            try:
                data = conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            unpacker.feed(data)
            for message in unpacker:
                self._handle(conn, message)

    def _handle(self, conn: socket.socket, message: list[Any]) -> None:
        tag, second = message[0], message[1]
        options: dict[str, Any] = {}
        if isinstance(second, list):  # Forward mode
            entries = second
            options = message[2] if len(message) > 2 else {}
        elif isinstance(second, bytes):  # PackedForward mode
            unpacker = msgpack.Unpacker(raw=False, ext_hook=lambda c, d: msgpack.ExtType(c, d))
            unpacker.feed(second)
            entries = list(unpacker)
            options = message[2] if len(message) > 2 else {}
        else:  # Message mode: [tag, time, record, option?]
            entries = [[second, message[2]]]
            options = message[3] if len(message) > 3 else {}
        with self._lock:
            for raw_time, record in entries:
                self.events.append(Event(tag, decode_time(raw_time), record, raw_time))
        chunk = options.get("chunk") if isinstance(options, dict) else None
        if chunk:
            self.chunks.append(chunk)
            if self.ack:
                conn.sendall(msgpack.packb({"ack": chunk}))

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Event]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self._lock:
                if len(self.events) >= count:
                    return list(self.events)
            time.sleep(0.01)
        with self._lock:
            return list(self.events)

    def stop(self) -> None:
        self._stop.set()
        self._server.close()
        with self._lock:
            for conn in self._conns:
                conn.close()
        for t in self._threads:
            t.join(2)


def decode_time(raw: Any) -> float:
    if isinstance(raw, msgpack.ExtType) and raw.code == 0:
        sec, nsec = struct.unpack(">II", raw.data)
        return sec + nsec / 1e9
    return float(raw)
