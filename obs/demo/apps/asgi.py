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


@app.get("/api/items/{item_id}")
def read_item(item_id: int) -> dict[str, Any]:
    return work.read_item(item_id)


@app.post("/api/items")
def create_item(name: str = "new item") -> dict[str, Any]:
    return work.create_item(name)


@app.get("/api/sync")
def sync() -> dict[str, Any]:
    return work.sync()


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


instrument(app, service_name=SERVICE)
