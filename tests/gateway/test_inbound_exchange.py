"""One exchange end to end: POST a police record, the permitted recipient's topic
gets only the allowed fields, denied recipients get nothing, all of it audited."""

from __future__ import annotations

import json
import time

import pytest
import sqlalchemy as sa
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from gateway.audit.verify import verify_engine
from gateway.delivery.reader import read_topic
from tests.conftest import ROOT

PARTNER = {"Content-Type": "application/json"}
CSV = {"Content-Type": "text/csv"}
ALLOWED_TOP = {
    "contract_version",
    "exchange_id",
    "source_partner",
    "submitted_at",
    "category",
    "purpose",
    "purposes",
    "urgency",
    "case_reference",
    "subjects",
    "payload",
}


def submit(gateway, body: bytes, headers=PARTNER, partner: str | None = "cheshire-police"):
    """POST as ``partner``'s registered system (None: with no credentials at all)."""
    with gateway.client(partner) as client:
        return client.post("/v1/inbound/police", content=body, headers=headers)


def test_permitted_recipient_gets_only_allowed_fields(gateway, police_sample):
    response = submit(gateway, police_sample)
    assert response.status_code == 202, response.text
    body = response.json()
    decisions = {d["recipient"]: d for d in body["decisions"]}
    assert decisions["probation-spoc-north"]["effect"] == "permit"
    assert decisions["probation-spoc-north"]["rules"] == ["police-crime-to-probation-spoc"]
    assert decisions["cwp-mental-health"]["effect"] == "deny"
    assert body["policy_version"].startswith("sha256:")

    exchange_id = body["exchange_id"]
    (message,) = read_topic(
        gateway.bootstrap, gateway.topic("probation-spoc-north"), exchange_id=exchange_id, expect=1
    )
    record = message["value"]["record"]
    assert set(record) <= ALLOWED_TOP
    assert record["payload"]["crime"]["offence"]["legislation"].endswith("s2A")
    assert "summary" not in record["payload"]["crime"]  # free-text circumstances withheld
    for subject in record["subjects"]:
        assert set(subject) <= {"ref", "role", "identifiers", "name"}
    text = json.dumps(record)
    assert "Canal Street" not in text and "WA7 2BB" not in text and "advocate only" not in text
    assert message["headers"]["delivery-id"] == message["value"]["delivery_id"]
    assert message["headers"]["policy-version"] == body["policy_version"]


def test_denied_recipients_receive_nothing(gateway, police_sample):
    answer = submit(gateway, police_sample).json()
    exchange_id = answer["exchange_id"]
    denied = [d["recipient"] for d in answer["decisions"] if d["effect"] == "deny"]
    assert "cwp-mental-health" in denied
    gateway.wait_drained()
    for recipient in denied:
        assert (
            read_topic(
                gateway.bootstrap, gateway.topic(recipient), exchange_id=exchange_id, expect=0
            )
            == []
        )


def test_exchange_is_audited_and_chain_verifies(gateway, police_sample):
    exchange_id = submit(gateway, police_sample).json()["exchange_id"]
    read_topic(
        gateway.bootstrap, gateway.topic("probation-spoc-north"), exchange_id=exchange_id, expect=1
    )
    with gateway.client() as client:
        stored = client.get(f"/v1/exchanges/{exchange_id}").json()
    effects = {d["recipient"]: d["effect"] for d in stored["decisions"]}
    assert effects["probation-spoc-north"] == "permit"
    permitted = next(d for d in stored["decisions"] if d["recipient"] == "probation-spoc-north")
    assert "payload.crime.offence.code" in permitted["disclosed"]
    assert "payload.crime.summary" not in permitted["disclosed"]

    import sqlalchemy as sa

    with gateway.store.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT action, recipient, details FROM audit_log WHERE exchange_id = :e"),
            {"e": exchange_id},
        ).all()
    actions = sorted(r.action for r in rows)
    assert actions.count("collection") == 1
    assert actions.count("disclosure") == sum(e == "permit" for e in effects.values())
    assert actions.count("refusal") == 1
    (refusal,) = [json.loads(r.details) for r in rows if r.action == "refusal"]
    refused = {d["recipient"] for d in refusal["refused"]}
    assert refused == {r for r, e in effects.items() if e == "deny"}
    assert all(d["rules"] and d["reason"] for d in refusal["refused"])
    # Stated once for all refused recipients, and no empty fields repeated per recipient.
    assert refusal["policy_version"] == stored["policy_version"]
    assert refusal["purposes"] == ["stalking-risk-management"]  # every purpose tried
    assert not any({"policy_version", "lawful_basis"} & d.keys() for d in refusal["refused"])
    disclosure = next(
        json.loads(r.details)
        for r in rows
        if r.action == "disclosure" and r.recipient == "probation-spoc-north"
    )
    assert disclosure["lawful_basis"] == "dpa-part3-law-enforcement"
    assert "payload.crime.summary" in disclosure["removed"]
    assert "Canal Street" not in json.dumps([r.details for r in rows])  # paths, never values
    assert verify_engine(gateway.store.engine).ok


POLICE = "cheshire-police"


@pytest.mark.parametrize(
    ("body", "headers", "partner", "status", "slug", "field"),
    [
        (b'{"format": "police-crime/1", ', PARTNER, POLICE, 400, "malformed-body", None),
        (None, {"Content-Type": "text/plain"}, POLICE, 415, "unsupported-media-type", None),
        ("missing", PARTNER, POLICE, 422, "invalid-record", "occurrence.offence"),
        ("unknown", PARTNER, POLICE, 422, "invalid-record", "occurrence.colour"),
        (None, PARTNER, None, 401, "unauthenticated", None),
        (None, PARTNER, "nobody", 403, "unknown-partner", None),
    ],
    ids=[
        "malformed-json",
        "wrong-content-type",
        "missing-field",
        "unknown-field",
        "no-partner",
        "unknown-partner",
    ],
)
def test_bad_input_is_a_problem_and_keeps_nothing(
    gateway, police_sample, body, headers, partner, status, slug, field
):
    sample = json.loads(police_sample)
    if body == "missing":
        del sample["occurrence"]["offence"]
        body = json.dumps(sample).encode()
    elif body == "unknown":
        sample["occurrence"]["colour"] = "blue"
        body = json.dumps(sample).encode()
    elif body is None:
        body = police_sample
    before = gateway.count_rows()
    published_before = gateway.published_messages()
    response = submit(gateway, body, headers, partner)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"].endswith("/" + slug)
    assert problem["status"] == status
    if field:
        assert field in [p["field"] for p in problem["problems"]]
    after = gateway.count_rows()
    if status in (401, 403):
        # Refused before the body is read: who tried what is audited, nothing else kept.
        if status == 401:
            assert response.headers["www-authenticate"].startswith("Bearer")
        assert after == {**before, "audit_log": before["audit_log"] + 1}
        assert _last_action(gateway) == "access-refused"
    else:
        assert after == before
    assert gateway.published_messages() == published_before


def _last_action(gateway) -> str:
    with gateway.store.engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT action FROM audit_log ORDER BY seq DESC LIMIT 1")
        ).scalar_one()


def test_unknown_format_lists_known_ones(gateway, police_sample):
    with gateway.client() as client:
        response = client.post("/v1/inbound/telepathy", content=police_sample, headers=PARTNER)
    assert response.status_code == 404
    assert "police" in response.json()["detail"]


def test_health_and_readiness(gateway):
    with gateway.client() as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"store": "ok", "broker": "ok"}


def test_external_store_and_broker_start_nothing(gateway):
    """The fixtures configure both, so the runtime must not have started a broker."""
    assert gateway.runtime.broker is None
    assert gateway.runtime.bootstrap == gateway.runtime.settings.kafka_bootstrap


def test_oversized_body_is_refused_before_it_is_read_whole(gateway):
    limit = gateway.runtime.settings.max_body_bytes
    before = gateway.count_rows()
    with gateway.client() as client:
        response = client.post("/v1/inbound/police", content=b" " * (limit + 1), headers=PARTNER)
    assert response.status_code == 413
    assert response.json()["type"].endswith("/payload-too-large")
    assert gateway.count_rows() == before


def test_unknown_exchange_and_wrong_method_are_problems(gateway):
    with gateway.client() as client:
        missing = client.get("/v1/exchanges/00000000-0000-0000-0000-000000000000")
        wrong = client.get("/v1/inbound/police")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert wrong.status_code == 405
    assert wrong.headers["content-type"].startswith("application/problem+json")


def test_batch_keeps_good_rows_and_names_bad_ones(gateway):
    from tests.conftest import EXAMPLES

    body = (EXAMPLES / "police" / "daily-screening-with-bad-rows.csv").read_bytes()
    before = gateway.count_rows()
    response = submit(gateway, body, CSV)
    assert response.status_code == 202, response.text
    answer = response.json()
    rejected = [r for r in answer["results"] if r["status"] == "rejected"]
    accepted = [r for r in answer["results"] if r["status"] == "accepted"]
    assert rejected and accepted
    assert answer["accepted"] == len(accepted) and answer["rejected"] == len(rejected)
    for row in rejected:
        assert all(p["record"] == row["record"] and p["field"] for p in row["problems"])
    assert gateway.count_rows()["exchanges"] == before["exchanges"] + len(accepted)


def test_large_batch_is_prepared_off_the_event_loop_and_kept_whole(gateway):
    """Bodies over PREPARE_ON_LOOP_BYTES take the worker-thread path; same answer, same rows."""
    from gateway.api.app import PREPARE_ON_LOOP_BYTES
    from tests.conftest import EXAMPLES

    header, *rows = (EXAMPLES / "police" / "daily-screening.csv").read_text().splitlines()
    copies = PREPARE_ON_LOOP_BYTES // len("\n".join(rows)) + 1
    body = "\n".join([header] + rows * copies).encode() + b"\n"
    assert len(body) > PREPARE_ON_LOOP_BYTES
    before = gateway.count_rows()
    response = submit(gateway, body, CSV)
    assert response.status_code == 202, response.text[:500]
    answer = response.json()
    assert answer["accepted"] == len(rows) * copies and answer["rejected"] == 0
    assert gateway.count_rows()["exchanges"] == before["exchanges"] + len(rows) * copies


def _delivered_traceparent(gateway, body: bytes, headers=PARTNER) -> list[str]:
    """Submit ``body`` and return the parts of the ``traceparent`` its probation message
    carries: version, trace id, parent span id, flags."""
    response = submit(gateway, body, headers)
    assert response.status_code == 202, response.text
    (message,) = read_topic(
        gateway.bootstrap,
        gateway.topic("probation-spoc-north"),
        exchange_id=response.json()["exchange_id"],
        expect=1,
    )
    return message["headers"]["traceparent"].split("-")


def test_a_partners_trace_context_reaches_the_recipients_message(gateway, police_sample):
    """W3C trace context: the message carries the submitting request's trace id."""
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    headers = {**PARTNER, "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
    version, carried, span_id, _flags = _delivered_traceparent(gateway, police_sample, headers)
    assert (version, carried) == ("00", trace_id)
    assert span_id != "00f067aa0ba902b7"  # the gateway's own span, a child of the partner's


def test_a_sampled_partner_trace_records_the_pipelines_spans_under_it(gateway, police_sample):
    """With a sampled traceparent the request's server span is a child of the partner's
    span, ingest and exchange spans children of it, and the message names the relay's
    publish span, a child of the exchange span (tests/telemetry has every stage)."""
    provider = trace.get_tracer_provider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        trace_id = "5bf92f3577b34da6a3ce929d0e0e4737"
        headers = {**PARTNER, "traceparent": f"00-{trace_id}-10f067aa0ba902b8-01"}
        _version, _trace, span_id, flags = _delivered_traceparent(gateway, police_sample, headers)
        publish_name = f"send {gateway.topic('probation-spoc-north')}"
        # The relay ends its publish span once the broker acknowledged, as the message is read.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            spans = {
                s.name: s
                for s in exporter.get_finished_spans()
                if f"{s.context.trace_id:032x}" == trace_id
            }
            if publish_name in spans:
                break
            time.sleep(0.05)
    finally:
        exporter.shutdown()
    server = spans["POST /v1/inbound/{fmt}"]
    assert f"{server.parent.span_id:016x}" == "10f067aa0ba902b8"
    assert {"ingest", "exchange"} <= set(spans)
    assert all(spans[n].parent.span_id == server.context.span_id for n in ("ingest", "exchange"))
    assert all(spans[n].attributes["isg.format"] == "police" for n in ("ingest", "exchange"))
    publish = spans[publish_name]
    assert publish.parent.span_id == spans["exchange"].context.span_id
    assert span_id == f"{publish.context.span_id:016x}" and flags == "01"


def test_without_a_trace_context_each_exchange_starts_its_own_trace(gateway, police_sample):
    traces = set()
    for _ in range(2):
        traces.add(_delivered_traceparent(gateway, police_sample)[1])
    assert len(traces) == 2 and "0" * 32 not in traces


def test_minted_ids_are_time_ordered(gateway, police_sample):
    """Exchange, delivery and audit-entry ids are UUIDv7, so the store's indexes on
    them grow at one end; ids minted later sort after earlier ones."""
    import uuid

    import sqlalchemy as sa

    first = submit(gateway, police_sample).json()["exchange_id"]
    second = submit(gateway, police_sample).json()["exchange_id"]
    assert uuid.UUID(first).version == uuid.UUID(second).version == 7
    assert first < second
    with gateway.store.engine.connect() as conn:
        for column, table in (("delivery_id", "outbox"), ("entry_id", "audit_log")):
            ids = conn.execute(
                sa.text(f"SELECT {column} FROM {table} WHERE exchange_id IN (:a, :b)"),
                {"a": first, "b": second},
            ).scalars()
            ids = list(ids)
            assert ids and {uuid.UUID(i).version for i in ids} == {7}
        ordered = conn.execute(
            # The relay's transmission entries are minted before their commit, so they
            # may interleave; the pipeline's own entries are appended as minted.
            sa.text(
                "SELECT entry_id FROM audit_log WHERE exchange_id IN (:a, :b)"
                " AND action <> 'transmission' ORDER BY seq"
            ),
            {"a": first, "b": second},
        ).scalars()
        ordered = list(ordered)
    assert len(ordered) >= 6 and ordered == sorted(ordered)


def test_openapi_documents_the_inbound_headers(gateway):
    with gateway.client() as client:
        spec = client.get("/openapi.json").json()
    parameters = spec["paths"]["/v1/inbound/{fmt}"]["post"]["parameters"]
    headers = {p["name"]: p["required"] for p in parameters if p["in"] == "header"}
    assert headers == {"Idempotency-Key": False}


def test_the_exchange_says_where_each_permitted_copy_stands(gateway, police_sample):
    """``pending`` until the relay's transmission entry is written, then ``sent`` with
    its delivery id and time; refused recipients have no copy to report."""
    answer = submit(gateway, police_sample).json()
    exchange_id = answer["exchange_id"]
    permitted = [d["recipient"] for d in answer["decisions"] if d["effect"] == "permit"]
    gateway.wait_drained()
    with gateway.client() as client:
        copies = client.get(f"/v1/exchanges/{exchange_id}").json()["deliveries"]
    assert [c["recipient"] for c in copies] == permitted
    assert {c["status"] for c in copies} == {"sent"}
    assert all(c["channel"] == "kafka" and c["delivery_id"] and c["at"] for c in copies)
    message = read_topic(
        gateway.bootstrap, gateway.topic("probation-spoc-north"), exchange_id=exchange_id, expect=1
    )[0]
    north = next(c for c in copies if c["recipient"] == "probation-spoc-north")
    assert north["delivery_id"] == message["headers"]["delivery-id"]


def test_a_record_nobody_may_receive_says_so_plainly(gateway, police_sample):
    """No silent refusal: the 202 names who receives a copy (nobody) and says so."""
    sample = json.loads(police_sample)
    sample["purpose"] = "mappa-offender-management"  # no flow shares a crime record for it
    answer = submit(gateway, json.dumps(sample).encode())
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert {d["effect"] for d in body["decisions"]} == {"deny"}
    assert body["recipients"] == []
    assert body["notice"].startswith("No recipient may receive this record")


def test_the_answer_names_who_receives_a_copy(gateway, police_sample):
    body = submit(gateway, police_sample).json()
    permitted = [d["recipient"] for d in body["decisions"] if d["effect"] == "permit"]
    assert body["recipients"] == permitted and permitted
    assert "notice" not in body


def test_every_decision_names_the_agreement_version_and_the_bundle_hash(gateway, police_sample):
    body = submit(gateway, police_sample).json()
    assert body["agreement_version"] == gateway.runtime.bundle.agreement_version
    stored = gateway.store.get_exchange(body["exchange_id"])
    assert {(d["agreement_version"], d["policy_version"]) for d in stored["decisions"]} == {
        (body["agreement_version"], body["policy_version"])
    }


def test_what_the_law_makes_impossible_is_refused_with_the_reason(gateway):
    """A full Stalking Protection Order runs for two years at least: a record saying
    otherwise is wrong, so it is refused (422 naming why) and nothing is kept."""
    sample = json.loads((ROOT / "examples" / "police" / "spo-granted.json").read_text())
    sample["orders"][0]["expires"] = "2027-06-01"
    response = submit(gateway, json.dumps(sample).encode())
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    text = json.dumps(response.json())
    assert "Stalking Protection Order has effect for at least 2 years" in text


def _sample(name: str) -> bytes:
    return (ROOT / "examples" / "police" / name).read_bytes()


def test_one_submission_reaches_each_recipient_under_its_own_purpose(gateway):
    """Declared for risk management and victim safeguarding: the probation SPOC and
    the victim's advocate each receive a copy, each naming only its own purpose."""
    answer = submit(gateway, _sample("stalking-crime-two-purposes.json"))
    assert answer.status_code == 202, answer.text
    body = answer.json()
    permits = {d["recipient"]: d for d in body["decisions"] if d["effect"] == "permit"}
    assert permits["victim-advocates"]["purpose"] == "victim-safeguarding"
    spocs = [r for r in permits if r.startswith("probation-spoc-")]
    assert len(spocs) == 1
    assert permits[spocs[0]]["purpose"] == "stalking-risk-management"
    (message,) = read_topic(
        gateway.bootstrap,
        gateway.topic("victim-advocates"),
        exchange_id=body["exchange_id"],
        expect=1,
    )
    record = message["value"]["record"]
    assert record["purposes"] == ["victim-safeguarding"]
    assert record["purpose"] == "victim-safeguarding"


def test_a_suspect_of_no_fixed_abode_is_flagged_unrouted_not_silently_refused(gateway):
    answer = submit(gateway, _sample("stalking-crime-suspect-no-fixed-abode.json"))
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert sorted(body["unrouted"]) == [
        "probation-spoc-east",
        "probation-spoc-north",
        "probation-spoc-west",
    ]
    assert "route it by hand" in body["notice"]
    unrouted = [d for d in body["decisions"] if d["recipient"] in body["unrouted"]]
    assert all(d["effect"] == "deny" and d["rules"][0] == "unrouted" for d in unrouted)
    # kept with the exchange and in the audit trail, so the coordinating team can find it
    stored = gateway.store.get_exchange(body["exchange_id"])
    rules = {d["recipient"]: d["rules"] for d in stored["decisions"]}
    assert rules["probation-spoc-north"][0] == "unrouted"


def test_an_immediate_record_nobody_may_receive_reaches_the_safety_net(gateway, police_sample):
    """Never a silent 202 for a threat to life: the force control room receives it
    under vital interests, the answer says so, and a metric counts it."""
    sample = json.loads(police_sample)
    sample["urgency"] = "immediate"
    sample["purpose"] = "mappa-offender-management"  # no flow shares a crime record for it
    before = gateway.runtime.pipeline.safety_net_sends
    counted = REGISTRY.get_sample_value("isg_safety_net_total") or 0.0
    answer = submit(gateway, json.dumps(sample).encode())
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["recipients"] == ["cheshire-control-room"]
    assert body["safety_net"] == "cheshire-control-room"
    assert "safety net" in body["notice"]
    (decision,) = [d for d in body["decisions"] if d["effect"] == "permit"]
    assert decision["rules"] == ["safety-net"]
    assert decision["purpose"] == "preventing-harm-to-life"
    assert gateway.runtime.pipeline.safety_net_sends == before + 1
    with gateway.client() as client:
        metrics = client.get("/metrics").text
    (family,) = [f for f in text_string_to_metric_families(metrics) if f.name == "isg_safety_net"]
    assert [s.value for s in family.samples] == [counted + 1]
