"""The HTTP API. It only translates HTTP to pipeline calls and back."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
from fastapi import Depends, FastAPI, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from contracts.ids import is_id_text
from gateway import jsontext
from gateway.alerts import clock
from gateway.api import idempotency, inbox, limits, openapi, problems
from gateway.api.audit_keys import install_audit_keys
from gateway.api.auditor import install_auditor, record_consultation
from gateway.api.auth import install_token_endpoints, operations_allowed, partner, refuse_format
from gateway.api.corrections import corrected_by, install_corrections
from gateway.api.rate_limits import RateLimits
from gateway.api.unrouted import install_unrouted
from gateway.delivery import outbox
from gateway.delivery import status as delivery_status
from gateway.errors import (
    GatewayError,
    InvalidRecord,
    NotFound,
    NotTheRecipient,
    PayloadTooLarge,
)
from gateway.identity.caller import ACKNOWLEDGE, READ_EXCHANGES, SUBMIT, Caller
from gateway.pipeline import Accepted, Submission
from gateway.runtime import Runtime
from gateway.store.db import as_utc
from gateway.telemetry import exposition
from gateway.telemetry.asgi import Telemetry

THREADS = 32
#: Bodies up to this size run the pipeline's stages on the event loop (well under
#: a millisecond for one record); larger ones, batches, go to a worker thread, so
#: an urgent record never waits for the loop behind a batch's hundred records.
PREPARE_ON_LOOP_BYTES = 16 * 1024
#: Batch formats: prepared in a worker thread whatever their size.
BATCH_MEDIA_TYPES = ("text/csv",)


def _prepare_on_loop(body: bytes, media_type: str | None) -> bool:
    """Whether a body is one record, cheap enough to run through the stages on the loop."""
    kind = (media_type or "").split(";", 1)[0].strip().lower()
    return len(body) <= PREPARE_ON_LOOP_BYTES and kind not in BATCH_MEDIA_TYPES


INBOUND_HEADERS = [
    {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": "Your id for this request, printable ASCII: a retry with it gets "
        "the original answer.",
        "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
    },
]


def _accepted_body(result: Submission) -> dict[str, Any]:
    """The 202 body: one exchange's decisions, or a batch's per-record results."""
    if not result.batch:
        (item,) = result.items
        assert isinstance(item, Accepted)
        return {
            **item.as_dict(),
            "policy_version": result.policy_version,
            "agreement_version": result.agreement_version,
        }
    if result.accepted == 0:
        raise InvalidRecord(
            "no record in the batch is valid",
            [p for item in result.items if isinstance(item, InvalidRecord) for p in item.problems],
        )
    results: list[dict[str, Any]] = []
    for index, item in enumerate(result.items):
        if isinstance(item, Accepted):
            results.append({"record": index, "status": "accepted", **item.as_dict()})
        else:
            results.append(
                {
                    "record": index,
                    "status": "rejected",
                    "detail": item.detail,
                    "problems": [p.as_dict() for p in item.problems],
                }
            )
    return {
        "accepted": result.accepted,
        "rejected": len(result.items) - result.accepted,
        "policy_version": result.policy_version,
        "agreement_version": result.agreement_version,
        "results": results,
    }


def _submit_idempotently(
    runtime: Runtime, fmt: str, body: bytes, media_type: str | None, caller: Caller, key: str
) -> JSONResponse:
    """The exchanges and the answer a retry will get are committed in one transaction,
    a batch's too: a crash cannot leave exchanges kept without their answer, which a
    retry would submit again."""
    store = runtime.store
    partner = str(caller.partner)
    previous = idempotency.claim(store, partner, key, idempotency.body_hash(fmt, media_type, body))
    if previous is not None:
        return JSONResponse(
            previous.body, status_code=previous.status_code, headers={"Idempotent-Replayed": "true"}
        )
    try:
        prepared = runtime.pipeline.prepare(fmt, body, media_type, partner, caller.client_id)
        answer = _accepted_body(prepared.submission)

        def record(conn: Connection) -> None:
            idempotency.record_answer(conn, partner, key, 202, answer)

        runtime.pipeline.commit_together(prepared, record)
    except GatewayError:
        with contextlib.suppress(GatewayError):  # a store that is down keeps the stale claim
            idempotency.release(store, partner, key)
        raise
    return JSONResponse(answer, status_code=202)


def create_app(runtime: Runtime, *, stop_runtime_on_shutdown: bool = False) -> FastAPI:
    """The API over a started runtime; ``serve`` lets the app stop it on shutdown."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Batches and Idempotency-Key submissions wait for their group commit in
        # these threads (single records wait on the event loop): enough of them
        # to fill a group, few enough not to crowd the GIL.
        anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
        yield
        if stop_runtime_on_shutdown:
            await run_in_threadpool(runtime.stop)

    docs = runtime.settings.api_docs
    app = FastAPI(
        lifespan=lifespan,
        docs_url=None,  # served by gateway.api.openapi, with assets of its own
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
        title="Information-sharing gateway",
        version="0.1.0",
        description="Policy-checked, minimised, audited exchange between partner agencies.",
        # Not FastAPI's own telemetry: its server span records the URL's path and query,
        # which may name a person. gateway.telemetry.asgi makes the span and the metrics.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    problems.install(app)
    from gateway.api.sign_in import install_sign_in  # people's sign-in (OpenID Connect)

    install_sign_in(app, runtime.settings, runtime.settings.data_dir)
    inbox.install_inbox(app, runtime)  # the recipients' inbox, for people signed in
    rate_limits = RateLimits(
        runtime.settings.rate_limit_per_client, runtime.settings.rate_limit_per_address
    )
    install_token_endpoints(app, runtime, rate_limits)
    install_corrections(app, runtime, rate_limits)  # a sender corrects or withdraws
    install_unrouted(app, runtime)  # the coordinating team routes records by hand
    install_audit_keys(app, runtime)  # the audit checkpoints' public keys
    install_auditor(app, runtime)  # auditors and the DPO read the audit trail
    max_body = runtime.settings.max_body_bytes
    submitter = Depends(partner(runtime, SUBMIT, rate_limits))
    exchange_reader = Depends(partner(runtime, READ_EXCHANGES, rate_limits))
    acknowledger = Depends(partner(runtime, ACKNOWLEDGE, rate_limits))

    @app.post(
        "/v1/inbound/{fmt}",
        status_code=202,
        tags=["exchange"],
        openapi_extra={"parameters": INBOUND_HEADERS},
    )
    async def inbound(
        fmt: str,
        request: Request,
        caller: Caller = submitter,
        # Documented by INBOUND_HEADERS, with its length limit stated there.
        idempotency_key: str | None = Header(None, include_in_schema=False),
    ) -> Response:
        """Submit a partner record in its native format.

        The submitting partner is the one the access token names, never a header or
        the body; it may submit only the formats its registration allows. With an
        ``Idempotency-Key`` a retried request gets the original answer.
        """
        await refuse_format(runtime, request, caller, fmt)
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_body:
            raise PayloadTooLarge(f"the body is over {max_body} bytes")
        media_type = request.headers.get("content-type")
        body = await limits.read_body(request.stream(), media_type, max_body)
        # The server span (gateway.telemetry.asgi) carries a partner's traceparent: the
        # pipeline's spans, and so every message's trace context, continue it.
        return await _submit(fmt, body, media_type, caller, idempotency_key)

    batches_one_at_a_time = asyncio.Semaphore(1)

    async def _submit(
        fmt: str,
        body: bytes,
        media_type: str | None,
        caller: Caller,
        idempotency_key: str | None,
    ) -> Response:
        partner, client_id = str(caller.partner), caller.client_id
        if idempotency_key is None:
            if _prepare_on_loop(body, media_type):
                result = await runtime.pipeline.submit_async(
                    fmt, body, media_type, partner, client_id
                )
            else:  # a large batch must not hold up the event loop
                # One batch prepared at a time: several batch threads would each take
                # as many turns at the interpreter lock as the event loop gets.
                async with batches_one_at_a_time:
                    prepared = await run_in_threadpool(
                        runtime.pipeline.prepare, fmt, body, media_type, partner, client_id
                    )
                await run_in_threadpool(runtime.pipeline.commit, prepared)
                result = prepared.submission
            return Response(
                jsontext.dumps_bytes(_accepted_body(result)),
                status_code=202,
                media_type="application/json",
            )
        return await run_in_threadpool(
            _submit_idempotently, runtime, fmt, body, media_type, caller, idempotency_key
        )

    @app.get("/v1/exchanges/{exchange_id}", tags=["exchange"])
    def get_exchange(exchange_id: str, caller: Caller = exchange_reader) -> dict[str, Any]:
        """What was decided for an exchange the caller submitted, and where each
        permitted copy stands (``pending``, ``sent``, ``dead-lettered``, as the audit
        trail has it); no record contents. Another partner's exchange is a 404, so
        its existence does not leak."""
        row = runtime.store.get_exchange(exchange_id) if is_id_text(exchange_id) else None
        if row is None or row["source_partner"] != caller.partner:
            raise NotFound(f"no exchange {exchange_id}")
        with runtime.store.engine.connect() as conn:
            copies = delivery_status.deliveries(conn, exchange_id, row["decisions"])
            acknowledgements = clock.trail(conn, exchange_id)
            later = corrected_by(conn, exchange_id)
        # A read of an exchange is an s62 consultation, audited like any other.
        record_consultation(
            runtime, caller, exchange_id, "GET /v1/exchanges/{id}", row.get("envelope")
        )
        withdrawn_at, erased_at = row.get("withdrawn_at"), row.get("erased_at")
        return {
            "exchange_id": row["exchange_id"],
            "source_partner": row["source_partner"],
            "format": row["format"],
            "category": row["category"],
            "purpose": row["purpose"],
            "urgency": row["urgency"],
            "submitted_at": as_utc(row["submitted_at"]).isoformat(),  # SQLite drops the zone
            "policy_version": row["policy_version"],
            "decisions": row["decisions"],
            "deliveries": copies,
            "acknowledgements": acknowledgements,
            "corrects": row.get("corrects"),
            "corrected_by": later,
            "withdrawn_at": as_utc(withdrawn_at).isoformat() if withdrawn_at else None,
            "erased_at": as_utc(erased_at).isoformat() if erased_at else None,
        }

    @app.post("/v1/exchanges/{exchange_id}/acknowledge", tags=["exchange"])
    def acknowledge_copy(exchange_id: str, caller: Caller = acknowledger) -> dict[str, Any]:
        """The recipient's system acknowledges the copy it received: its clock stops,
        and the sender sees who acknowledged and when. Saying it twice is harmless.
        The sender cannot acknowledge (403); anyone else learns nothing (404)."""
        row = runtime.store.get_exchange(exchange_id) if is_id_text(exchange_id) else None
        if row is None:
            raise NotFound(f"no exchange {exchange_id}")
        party = str(caller.partner)
        try:
            done = clock.acknowledge(
                runtime.store, exchange_id, party, caller.actor, datetime.now(UTC)
            )
        except clock.NoClock:
            if row["source_partner"] == party:
                raise NotTheRecipient(
                    "the sender cannot acknowledge: only a recipient of a copy that must be "
                    "acknowledged can"
                ) from None
            raise NotFound(f"no copy of exchange {exchange_id} waits for you") from None
        return {
            "exchange_id": exchange_id,
            "recipient": party,
            "acknowledged_at": done.acknowledged_at.isoformat(),
            "acknowledged_by": done.acknowledged_by,
            "already": done.already,
        }

    @app.get("/v1/adapters", tags=["meta"])
    def list_adapters() -> dict[str, Any]:
        return {
            "adapters": [
                {"format": name, "media_types": list(a.media_types), "summary": a.summary}
                for name, a in sorted(runtime.registry.adapters.items())
            ],
            "disabled": runtime.registry.disabled,
        }

    @app.get("/metrics", tags=["meta"], response_class=PlainTextResponse)
    def metrics(request: Request) -> Response:
        """Prometheus text (docs/telemetry.md): for loopback callers, or all where
        ``GATEWAY_PUBLIC_OPERATIONS`` says so."""
        if not operations_allowed(runtime, request):
            raise NotFound("no such resource")
        state = exposition.State(runtime.store, runtime.policy, runtime.broker_up)
        return Response(exposition.render(state), media_type=exposition.CONTENT_TYPE)

    @app.get("/healthz", tags=["meta"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["meta"])
    def readyz(request: Request) -> JSONResponse:
        """Readiness: the store answers, so a record accepted is kept. A broker outage
        answers 200 ``degraded`` (accepted records wait in the outbox). Each check,
        the outbox's backlog and the policy's state only for loopback callers or where
        the settings say so."""
        state = runtime.readiness()
        detail: dict[str, Any] = {}
        if operations_allowed(runtime, request):
            detail = {k: v for k, v in state.items() if k != "status"}
            if state["ready"]:
                with contextlib.suppress(SQLAlchemyError), runtime.store.engine.connect() as conn:
                    detail["outbox"] = {"pending": outbox.pending_count(conn)}
        if state["ready"]:
            return JSONResponse({"status": state["status"], **detail})
        return problems.problem(
            503,
            "not-ready",
            "The gateway is not ready",
            "a dependency is unavailable",
            request,
            **detail,
        )

    openapi.install(app, runtime.registry, docs=docs)
    # Added last, so outermost: its span and timing cover every other middleware.
    app.add_middleware(Telemetry)
    return app
