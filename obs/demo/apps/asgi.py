"""The demo's FastAPI service, instrumented with one call (run: ``uvicorn obs.demo.apps.asgi:app``)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from instrumentation import instrument
from obs.demo.apps.work import Work

SERVICE = os.environ.get("OBS_SERVICE_NAME", "backend")
work = Work(SERVICE)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    work.setup()
    yield


app = FastAPI(title=f"obs demo: {SERVICE}", lifespan=lifespan)


@app.get("/api/courses")
def courses() -> list[dict[str, Any]]:
    return work.courses()


@app.get("/api/courses/{course_id}")
def course(course_id: int) -> dict[str, Any]:
    return work.course(course_id)


@app.post("/api/submissions")
def submit(course_id: int = 1) -> dict[str, Any]:
    return work.submit(course_id)


@app.post("/api/auth/login")
def login() -> dict[str, Any]:
    return work.login()


@app.get("/api/reports/export")
def export() -> dict[str, Any]:
    return work.export()


@app.post("/sync/{what}")
def sync(what: str) -> dict[str, Any]:
    return work.sync(what)


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


instrument(app, service_name=SERVICE)
