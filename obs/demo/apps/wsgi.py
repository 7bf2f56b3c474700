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


@app.get("/api/courses")
def courses() -> list[dict[str, Any]]:
    return work.courses()


@app.get("/api/courses/<int:course_id>")
def course(course_id: int) -> dict[str, Any]:
    return work.course(course_id)


@app.post("/api/submissions")
def submit() -> dict[str, Any]:
    return work.submit(int(request.args.get("course_id", "1")))


@app.post("/api/auth/login")
def login() -> dict[str, Any]:
    return work.login()


@app.get("/api/reports/export")
def export() -> dict[str, Any]:
    return work.export()


@app.post("/sync/<what>")
def sync(what: str) -> dict[str, Any]:
    return work.sync(what)


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


instrument(app, service_name=SERVICE)
