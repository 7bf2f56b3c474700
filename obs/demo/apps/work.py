"""What the demo's services do on each request, whatever the framework: PostgreSQL rows behind a
Redis cache, and calls to the services they depend on.

Connections are made lazily and made again after a failure, so a service survives its datastore
being stopped and started (its requests fail meanwhile, as a real service's would).
"""

from __future__ import annotations

import json
import logging
import os
import random
import secrets
import threading
import time
from typing import Any

import psycopg
import redis
import requests

from obs.demo.apps.faults import FaultFile

log = logging.getLogger("demo")

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS courses (id serial PRIMARY KEY, title text NOT NULL)",
    "CREATE TABLE IF NOT EXISTS submissions (id serial PRIMARY KEY, course_id int NOT NULL, created timestamptz NOT NULL DEFAULT now())",
)
SEED_ROWS = 50
CACHE_SECONDS = 5
#: What an export takes: the one route the backend's latency SLO leaves out.
EXPORT_SECONDS = 0.2


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
        """Create and seed the tables (idempotent); called once when the service starts."""
        if not self.dsn:
            return
        for statement in _SCHEMA:
            self._sql(statement)
        if self._sql("SELECT count(*) FROM courses")[0][0] < SEED_ROWS:
            self._sql("INSERT INTO courses (title) SELECT 'course ' || g FROM generate_series(1, %s) AS g", (SEED_ROWS,))

    # -- requests (the built-in platform's routes: its dashboards and sampling name them) ---------

    def _cached(self, key: str, load: Any) -> Any:
        if self.redis is not None:
            cached = self.redis.get(f"{self.service}:{key}")
            if cached is not None:
                return json.loads(cached)
        value = load()
        if self.redis is not None:
            self.redis.set(f"{self.service}:{key}", json.dumps(value), ex=CACHE_SECONDS)
        return value

    def courses(self) -> list[dict[str, Any]]:
        self.faults.apply()
        rows = self._cached("courses", lambda: self._sql("SELECT id, title FROM courses ORDER BY id LIMIT 20") if self.dsn else [])
        return [{"id": r[0], "title": r[1]} for r in rows]

    def course(self, course_id: int) -> dict[str, Any]:
        self.faults.apply()
        rows = self._cached(f"course:{course_id}", lambda: self._sql("SELECT id, title FROM courses WHERE id = %s", (course_id,)) if self.dsn else [])
        log.info("course read", extra={"course_id": course_id})
        return {"id": course_id, "title": rows[0][1] if rows else None}

    def submit(self, course_id: int) -> dict[str, Any]:
        self.faults.apply()
        found = self._sql("INSERT INTO submissions (course_id) VALUES (%s) RETURNING id", (course_id,)) if self.dsn else [(0,)]
        if self.redis is not None:
            self.redis.incr(f"{self.service}:submissions")
        return {"id": found[0][0], "course_id": course_id}

    def login(self) -> dict[str, Any]:
        self.faults.apply()
        token = secrets.token_hex(8)
        if self.redis is not None:
            self.redis.set(f"{self.service}:session:{token}", "student", ex=60)
        return {"session": "created"}

    def export(self) -> dict[str, Any]:
        self.faults.apply()
        time.sleep(EXPORT_SECONDS)
        count = self._sql("SELECT count(*) FROM submissions")[0][0] if self.dsn else 0
        return {"submissions": count}

    def sync(self, what: str) -> dict[str, Any]:
        """Read courses from every upstream service, queue a job in Redis."""
        self.faults.apply()
        session: requests.Session | None = getattr(self._http, "session", None)
        if session is None:
            session = self._http.session = requests.Session()
        for upstream in self.upstreams:
            path = "/api/courses" if what == "rosters" else f"/api/courses/{random.randint(1, SEED_ROWS)}"
            response = session.get(f"{upstream}{path}", timeout=5)
            if response.status_code >= 500:
                raise UpstreamError(f"{upstream}{path} answered {response.status_code}")
        if self.redis is not None:
            self.redis.lpush(f"{self.service}:jobs", what)
            self.redis.ltrim(f"{self.service}:jobs", 0, 99)
        log.info("synced", extra={"sync": what, "upstreams": len(self.upstreams)})
        return {"synced": what, "upstreams": len(self.upstreams)}


__all__ = ["SEED_ROWS", "UpstreamError", "Work"]
