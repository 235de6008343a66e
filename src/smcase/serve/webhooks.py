"""The ASGI application: Facebook's webhook handshake and deliveries, ``/healthz`` and ``/metrics``.

Starlette on uvicorn: a small, well-kept stack whose request object gives the
raw body (the signature is over the bytes as sent, before any parsing) and that
runs the one blocking step (waiting for the spool's commit) without holding
the event loop.

A delivery is checked in this order, and refused at the first failure with
nothing stored: its declared and real size (413), then its
``X-Hub-Signature-256`` (HMAC-SHA256 of the raw body with the app secret,
compared in constant time; 403). Only then is it committed to the spool, and
only after the commit is it acknowledged (200). If the spool cannot commit,
the answer is 503 and the platform retries.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import Engine, text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ..capture.config import Secret
from .metrics import Metrics
from .spool import Spool, SpoolError
from .worker import Worker, failure_words

log = logging.getLogger("smcase.serve")
PLATFORM = "facebook"
ADAPTER = "facebook-webhook"
#: A worker that has not looked at the spool for this long is reported dead by ``/healthz``.
WORKER_SILENT_SECONDS = 120.0
_CHALLENGE_LIMIT = 500
#: Every answer says what it is, and that it is not to be sniffed as something else (the challenge echoes input).
_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


@dataclass
class ServeState:
    """What the application needs: the spool, the worker, the secrets, the register's engine, the limits."""

    spool: Spool
    metrics: Metrics
    app_secret: Secret
    verify_token: Secret
    max_body: int
    engine: Engine
    body_seconds: float = 10.0  # how long a delivery's body may take to arrive (Meta sends a few kB at once)
    worker: Worker | None = None
    extra_health: Callable[[], dict[str, Any]] | None = None  # e.g. the pollers' state


def signature_ok(secret: Secret, body: bytes, header: str | None) -> bool:
    """Does ``header`` (``sha256=<hex>``) carry the HMAC-SHA256 of ``body`` under ``secret``? Constant time."""
    if not header:
        return False
    expected = "sha256=" + hmac.new(secret.reveal().encode("utf-8"), body, hashlib.sha256).hexdigest()
    # As bytes: a hostile header with characters outside ASCII must compare unequal, not raise.
    return hmac.compare_digest(expected.encode("ascii"), header.strip().lower().encode("utf-8", "replace"))


def _refuse(state: ServeState, status: int, reason: str, words: str) -> Response:
    state.metrics.refused.labels(PLATFORM, reason).inc()
    return PlainTextResponse(words + "\n", status_code=status, headers=_HEADERS)


async def _body(request: Request, limit: int, seconds: float) -> bytes | None:
    """The body, or None when it grows past ``limit`` (read no further than that).

    TimeoutError when it does not arrive within ``seconds``: a client that trickles a body must not hold a
    connection (and a file descriptor) for ever.
    """
    chunks, size = [], 0
    async with asyncio.timeout(seconds):
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
    return b"".join(chunks)


def create_app(state: ServeState) -> Starlette:
    """The application for ``state``."""

    async def handshake(request: Request) -> Response:
        """``GET /webhooks/facebook``: the subscription handshake; echo the challenge for the right token only."""
        params = request.query_params
        token = params.get("hub.verify_token", "")
        challenge = params.get("hub.challenge", "")
        if params.get("hub.mode") != "subscribe" or not challenge or len(challenge) > _CHALLENGE_LIMIT \
                or not challenge.isprintable():
            return _refuse(state, 403, "bad_handshake", "forbidden")
        if not hmac.compare_digest(token.encode("utf-8"), state.verify_token.reveal().encode("utf-8")):
            return _refuse(state, 403, "bad_verify_token", "forbidden")
        return PlainTextResponse(challenge, headers=_HEADERS)

    async def delivery(request: Request) -> Response:
        """``POST /webhooks/facebook``: check size and signature, commit to the spool, then acknowledge."""
        state.metrics.received.labels(PLATFORM).inc()
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                return _refuse(state, 400, "bad_length", "bad Content-Length")
            if int(declared) > state.max_body:
                return _refuse(state, 413, "too_large", f"a delivery may be at most {state.max_body} bytes")
        try:
            body = await _body(request, state.max_body, state.body_seconds)
        except ClientDisconnect:
            return _refuse(state, 400, "disconnected", "the body did not arrive")
        except TimeoutError:
            return _refuse(state, 408, "slow_body", f"the body did not arrive within {state.body_seconds:g} s")
        if body is None:
            return _refuse(state, 413, "too_large", f"a delivery may be at most {state.max_body} bytes")
        if not body.strip():
            return _refuse(state, 400, "empty", "an empty delivery")
        headers = request.headers.getlist("x-hub-signature-256")
        if not headers:
            return _refuse(state, 403, "missing_signature", "forbidden: no X-Hub-Signature-256")
        if len(headers) > 1:  # which one would be the real one? Neither is trusted.
            return _refuse(state, 403, "bad_signature", "forbidden: more than one X-Hub-Signature-256")
        header = headers[0]
        if not signature_ok(state.app_secret, body, header):
            return _refuse(state, 403, "bad_signature", "forbidden: the signature does not match")
        try:
            new = await asyncio.wrap_future(state.spool.submit(ADAPTER, body))
        except SpoolError as exc:
            log.error("%s", exc)
            return _refuse(state, 503, "spool_error", "cannot store the delivery now: retry")
        (state.metrics.stored if new else state.metrics.duplicates).labels(PLATFORM).inc()
        return PlainTextResponse("ok\n", headers=_HEADERS)

    async def healthz(request: Request) -> Response:
        """``GET /healthz``: the register reachable, the worker alive, the oldest unprocessed delivery's age."""
        report = await run_in_threadpool(_health, state)
        return JSONResponse(report, status_code=200 if report["ok"] else 503, headers=_HEADERS)

    async def metrics(request: Request) -> Response:
        """``GET /metrics``: the Prometheus text format."""
        count, oldest = await run_in_threadpool(state.spool.backlog)
        state.metrics.backlog.set(count)
        state.metrics.lag.set(time.time() - oldest if oldest else 0.0)
        return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST, headers=_HEADERS)

    return Starlette(routes=[
        Route("/webhooks/facebook", handshake, methods=["GET"]),
        Route("/webhooks/facebook", delivery, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ])


def _health(state: ServeState) -> dict[str, Any]:
    try:
        with state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        database = "ok"
    except Exception as exc:  # reported, not raised: health is a report
        database = f"unreachable ({failure_words(exc)})"
    worker = state.worker
    alive = worker is not None and worker.is_alive() and time.monotonic() - worker.beat < WORKER_SILENT_SECONDS
    count, oldest = state.spool.backlog()
    report: dict[str, Any] = {
        "database": database, "worker": "alive" if alive else "not running",
        "pending_deliveries": count, "oldest_pending_seconds": round(time.time() - oldest, 3) if oldest else 0.0,
    }
    if state.extra_health:
        report.update(state.extra_health())
    report["ok"] = database == "ok" and alive
    return report
