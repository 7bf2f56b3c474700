"""The same small service in FastAPI and in Flask, used by the tests and by the real servers they start.

Routes (FastAPI template / Flask rule):
- ``/items/{item_id}`` / ``/items/<int:item_id>``: a plain JSON answer;
- ``/api/users/{user_id}`` / ``/api/users/<user_id>``: through an included router / a blueprint;
- ``/v1/things/{thing_id}`` (FastAPI only): through a mounted sub-application;
- ``/boom``: raises ``RuntimeError`` with an e-mail address in its message;
- ``/crash``: raises ``RuntimeError`` with a password, an e-mail address and a bearer token in its
  message (``CRASH_SECRETS``), whatever query string and headers it was sent;
- ``/log``: writes an application log record and answers the active trace id;
- ``/inflight``: answers the in-flight gauge as seen while the request runs;
- ``/sleep``: holds the request 0.2 s and answers the worker's pid;
- ``/call?url=``: calls ``url`` with ``requests`` (outgoing propagation).

``make_fastapi_app()`` / ``make_flask_app()`` instrument from the environment (``OBS_*``), as a
service deployed with one ``instrument(app)`` line would.
"""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry import trace
from prometheus_client import REGISTRY, CollectorRegistry

from obs.contract import HTTP_SERVER_ACTIVE

ITEM_TEMPLATE = {"fastapi": "/items/{item_id}", "flask": "/items/<int:item_id>"}
USER_TEMPLATE = {"fastapi": "/api/users/{user_id}", "flask": "/api/users/<user_id>"}
#: What ``/crash`` puts into its exception message: none of it may reach a log line.
CRASH_SECRETS = ("hunter2", "frank.pii@example.com", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl")
CRASH_MESSAGE = f"login failed password={CRASH_SECRETS[0]} for {CRASH_SECRETS[1]} with Bearer {CRASH_SECRETS[2]}"
log = logging.getLogger("tests.app")


def _trace_id() -> str:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else ""


def _inflight(registry: CollectorRegistry, method: str) -> float:
    return registry.get_sample_value(HTTP_SERVER_ACTIVE.name, {HTTP_SERVER_ACTIVE.labels[0]: method}) or 0.0


def fastapi_app(registry: CollectorRegistry = REGISTRY) -> Any:
    from fastapi import APIRouter, FastAPI

    app = FastAPI()
    users = APIRouter()

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, Any]:
        return {"id": item_id}

    @users.get("/users/{user_id}")
    async def user(user_id: str) -> dict[str, Any]:
        return {"user": user_id}

    app.include_router(users, prefix="/api")
    sub = FastAPI()

    @sub.get("/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, Any]:
        return {"thing": thing_id}

    app.mount("/v1", sub)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("failed for alice@school.example")

    @app.get("/crash")
    async def crash() -> None:
        raise RuntimeError(CRASH_MESSAGE)

    @app.get("/log")
    async def write_log() -> dict[str, str]:
        log.warning("course loaded for bob@school.example")
        return {"trace_id": _trace_id()}

    @app.get("/inflight")
    async def inflight() -> dict[str, float]:
        return {"inflight": _inflight(registry, "GET")}

    @app.get("/sleep")
    async def sleep() -> dict[str, Any]:
        import asyncio
        import os

        await asyncio.sleep(0.2)
        return {"pid": os.getpid()}

    @app.get("/call")
    def call(url: str) -> dict[str, Any]:
        import requests

        return {"status": requests.get(url, timeout=5).status_code, "trace_id": _trace_id()}

    return app


def flask_app(registry: CollectorRegistry = REGISTRY) -> Any:
    from flask import Blueprint, Flask, request

    app = Flask("tests.app")
    users = Blueprint("users", __name__)

    @app.get("/items/<int:item_id>")
    def item(item_id: int) -> dict[str, Any]:
        return {"id": item_id}

    @users.get("/users/<user_id>")
    def user(user_id: str) -> dict[str, Any]:
        return {"user": user_id}

    app.register_blueprint(users, url_prefix="/api")

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("failed for alice@school.example")

    @app.get("/crash")
    def crash() -> None:
        raise RuntimeError(CRASH_MESSAGE)

    @app.get("/log")
    def write_log() -> dict[str, str]:
        log.warning("course loaded for bob@school.example")
        return {"trace_id": _trace_id()}

    @app.get("/inflight")
    def inflight() -> dict[str, float]:
        return {"inflight": _inflight(registry, "GET")}

    @app.get("/sleep")
    def sleep() -> dict[str, Any]:
        import os
        import time

        time.sleep(0.2)  # keeps a sync worker busy, so concurrent requests spread over workers
        return {"pid": os.getpid()}

    @app.get("/call")
    def call() -> dict[str, Any]:
        import requests

        return {"status": requests.get(request.args["url"], timeout=5).status_code, "trace_id": _trace_id()}

    return app


def make_fastapi_app() -> Any:
    """uvicorn ``--factory`` entry point: instrumented from OBS_*/OTEL_* variables."""
    from instrumentation import instrument

    app = fastapi_app()
    instrument(app, trace_clients=False)
    return app


def make_flask_app() -> Any:
    """gunicorn ``'module:make_flask_app()'`` entry point: instrumented from OBS_*/OTEL_* variables."""
    from instrumentation import instrument

    app = flask_app()
    instrument(app, trace_clients=False)
    return app


def make_flask_app_propagating() -> Any:
    """As ``make_flask_app()``, with exceptions propagated to the server (``PROPAGATE_EXCEPTIONS``):
    gunicorn then logs them itself, with the request's target."""
    app = make_flask_app()
    app.config["PROPAGATE_EXCEPTIONS"] = True
    return app
