"""The demo's Flask service, instrumented with one call (run: ``gunicorn obs.demo.apps.wsgi:app``)."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, request

from instrumentation import instrument
from obs.demo.apps.work import Work

SERVICE = os.environ.get("OBS_SERVICE_NAME", "bridge")
work = Work(SERVICE)
app = Flask(f"obs-demo-{SERVICE}")


@app.get("/api/items/<int:item_id>")
def read_item(item_id: int) -> dict[str, Any]:
    return work.read_item(item_id)


@app.post("/api/items")
def create_item() -> dict[str, Any]:
    return work.create_item(request.args.get("name", "new item"))


@app.get("/api/sync")
def sync() -> dict[str, Any]:
    return work.sync()


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


instrument(app, service_name=SERVICE)
