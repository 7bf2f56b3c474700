"""What the demo's services do on each request, whatever the framework: PostgreSQL rows behind a
Redis cache, and calls to the services they depend on.

Connections are made lazily and made again after a failure, so a service survives its datastore
being stopped and started (its requests fail meanwhile, as a real service's would).
"""

from __future__ import annotations

import logging
import os
import random
import threading
from typing import Any

import psycopg
import redis
import requests

from obs.demo.apps.faults import FaultFile

log = logging.getLogger("demo")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id serial PRIMARY KEY,
    name text NOT NULL,
    created timestamptz NOT NULL DEFAULT now()
)
"""
SEED_ROWS = 50
CACHE_SECONDS = 5


class UpstreamError(Exception):
    """A service this one depends on answered with an error (this one answers 500)."""


class Work:
    """The datastores and upstreams of one service, from its ``OBS_DEMO_*`` environment."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.dsn = os.environ.get("OBS_DEMO_POSTGRES_DSN", "")
        self.upstreams = [u for u in os.environ.get("OBS_DEMO_UPSTREAMS", "").split(",") if u]
        url = os.environ.get("OBS_DEMO_REDIS_URL", "")
        self.redis = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1) if url else None
        self.faults = FaultFile(os.environ.get("OBS_DEMO_FAULTS"), service)
        self._local = threading.local()
        self._http = threading.local()

    # -- PostgreSQL ------------------------------------------------------------------------------

    def _db(self) -> psycopg.Connection[Any]:
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.broken:
            conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=2)
            self._local.conn = conn
        return conn

    def _sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            with self._db().cursor() as cur:
                cur.execute(query, params)
                return list(cur.fetchall()) if cur.description else []
        except psycopg.Error:
            conn = getattr(self._local, "conn", None)
            if conn is not None:
                conn.close()  # connect again on the next request
            raise

    def setup(self) -> None:
        """Create and seed the table (idempotent); called when the service starts."""
        if not self.dsn:
            return
        self._sql(_SCHEMA)
        if self._sql("SELECT count(*) FROM items")[0][0] < SEED_ROWS:
            self._sql("INSERT INTO items (name) SELECT 'item ' || g FROM generate_series(1, %s) AS g", (SEED_ROWS,))

    # -- requests --------------------------------------------------------------------------------

    def read_item(self, item_id: int) -> dict[str, Any]:
        self.faults.apply()
        key = f"{self.service}:item:{item_id}"
        if self.redis is not None:
            cached = self.redis.get(key)
            if cached is not None:
                return {"id": item_id, "name": bytes(cached).decode(), "cached": True}  # type: ignore[arg-type]
        name = f"item {item_id}"
        if self.dsn:
            rows = self._sql("SELECT name FROM items WHERE id = %s", (item_id,))
            name = rows[0][0] if rows else "missing"
        if self.redis is not None:
            self.redis.set(key, name, ex=CACHE_SECONDS)
        log.info("item read", extra={"item_id": item_id})
        return {"id": item_id, "name": name, "cached": False}

    def create_item(self, name: str) -> dict[str, Any]:
        self.faults.apply()
        item_id = self._sql("INSERT INTO items (name) VALUES (%s) RETURNING id", (name,))[0][0] if self.dsn else 0
        if self.redis is not None:
            self.redis.incr(f"{self.service}:created")
        return {"id": item_id, "name": name}

    def sync(self) -> dict[str, Any]:
        """Read an item from every upstream service, queue a job in Redis."""
        self.faults.apply()
        session: requests.Session | None = getattr(self._http, "session", None)
        if session is None:
            session = self._http.session = requests.Session()
        results: dict[str, Any] = {}
        for upstream in self.upstreams:
            response = session.get(f"{upstream}/api/items/{random.randint(1, SEED_ROWS)}", timeout=5)
            if response.status_code >= 500:
                raise UpstreamError(f"{upstream} answered {response.status_code}")
            results[upstream] = response.json()
        if self.redis is not None:
            self.redis.lpush(f"{self.service}:jobs", "sync")
            self.redis.ltrim(f"{self.service}:jobs", 0, 99)
        log.info("synced", extra={"upstreams": len(self.upstreams)})
        return {"synced": len(results)}


__all__ = ["SEED_ROWS", "UpstreamError", "Work"]
