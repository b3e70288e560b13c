"""The unrouted queue end to end: a suspect of no fixed abode leaves the probation SPOCs
unrouted, the coordinating team (signed in at a real OpenID Connect provider on
loopback) sees the item and routes it by supplying the PDU; the policy decides
again, the chosen SPOC's copy reaches its topic, and all of it is audited."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa
from oidc_provider_mock import User, run_server_in_thread

from gateway.api import create_app
from gateway.audit.verify import verify_engine
from gateway.delivery.reader import read_topic
from gateway.embedded.broker import free_port
from gateway.errors import PROBLEM_BASE
from gateway.runtime import Runtime
from gateway.settings import Settings
from gateway.store import Store
from gateway.store.tables import audit_log, unrouted
from tests.conftest import EXAMPLES, STORES, TEST_KEY, RunningGateway
from tests.identity.oidc_provider import Provider, served, sign_in
from tests.partner_clients import PARTNER_CLIENTS

pytestmark = pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")
NO_FIXED_ABODE = EXAMPLES / "police" / "stalking-crime-suspect-no-fixed-abode.json"
SPOCS = ["probation-spoc-east", "probation-spoc-north", "probation-spoc-west"]
USERS = [
    User(sub="cora", claims={"name": "Cora Coordinator", "roles": ["ISG.Coordinator"]}),
    User(sub="sam", claims={"name": "Sam Spoc", "roles": ["ISG.Spoc"]}),
]
ROLE_MAP = {"ISG.Coordinator": "coordinator", "ISG.Spoc": "spoc"}


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with run_server_in_thread(
        require_client_registration=True, require_nonce=True, user_claims=USERS
    ) as server:
        yield Provider(f"http://localhost:{server.server_port}")


@pytest.fixture(scope="module", params=STORES)
def gateway(request, provider, broker, postgres, tmp_path_factory) -> Iterator[RunningGateway]:
    """A gateway whose people sign in at ``provider``."""
    kind = request.param
    data_dir = tmp_path_factory.mktemp(f"unrouted-{kind}")
    url = f"sqlite:///{data_dir / 'gateway.db'}" if kind == "sqlite" else postgres.new()
    Store.from_url(url).upgrade()
    port = free_port()
    client_id, secret = provider.register_client(f"http://127.0.0.1:{port}/auth/callback")
    settings = Settings(
        data_dir=data_dir,
        database_url=url,
        kafka_bootstrap=broker.bootstrap,
        topic_prefix=f"t{uuid.uuid4().hex[:8]}",
        pseudonym_key=TEST_KEY,
        relay_poll_seconds=0.2,
        clients_file=PARTNER_CLIENTS.path,
        rate_limit_per_address="10000/second",
        oidc_issuer=provider.issuer,
        oidc_client_id=client_id,
        oidc_client_secret=secret,
        oidc_role_map=ROLE_MAP,
        session_secret="unrouted-queue-test-session-secret-" + uuid.uuid4().hex,
    )
    runtime = Runtime(settings).start()
    try:
        with served(create_app(runtime), port) as base:
            yield RunningGateway(runtime, base, kind)
    finally:
        runtime.stop()


def _person(gateway, sub: str) -> tuple[httpx.Client, str]:
    browser = httpx.Client(base_url=gateway.base_url, timeout=30)
    me = sign_in(browser, sub)
    assert me.status_code == 200, me.text
    return browser, me.json()["csrf_token"]


def _submit_no_fixed_abode(gateway) -> dict:
    with gateway.client("cheshire-police") as client:
        answer = client.post(
            "/v1/inbound/police",
            content=NO_FIXED_ABODE.read_bytes(),
            headers={"Content-Type": "application/json"},
        )
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert sorted(body["unrouted"]) == SPOCS
    return body


def _entries(gateway, exchange_id: str, action: str) -> list[dict]:
    with gateway.store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(audit_log.c.actor, audit_log.c.recipient, audit_log.c.details)
            .where(audit_log.c.exchange_id == exchange_id, audit_log.c.action == action)
            .order_by(audit_log.c.seq)
        ).all()
    return [{"actor": a, "recipient": r, **json.loads(d)} for a, r, d in rows]


def _problem(answer, status: int, slug: str) -> dict:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["type"] == PROBLEM_BASE + slug
    return body


def _open_item(browser: httpx.Client, exchange_id: str) -> dict | None:
    answer = browser.get("/v1/unrouted")
    assert answer.status_code == 200, answer.text
    return next((i for i in answer.json()["items"] if i["exchange_id"] == exchange_id), None)


def test_a_coordinator_routes_an_unrouted_record_to_the_spoc_the_policy_permits(gateway):
    exchange_id = _submit_no_fixed_abode(gateway)["exchange_id"]
    coordinator, csrf = _person(gateway, "cora")

    item = _open_item(coordinator, exchange_id)
    assert item is not None
    assert sorted(item["recipients"]) == SPOCS
    assert item["flow"] == "police-crime-to-probation-spoc"
    assert item["case_reference"] == "HRU-2026-0171" and item["category"] == "crime_record"
    assert "Tarrant" not in json.dumps(item) and "Owen" not in json.dumps(item)

    answer = coordinator.post(
        f"/v1/unrouted/{exchange_id}/route",
        json={"recipient": "probation-spoc-north", "place": {"probation_pdu": "North"}},
        headers={"X-CSRF-Token": csrf},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["routed_by"] == "person:cora"
    assert body["decision"]["rules"] == ["police-crime-to-probation-spoc-by-pdu"]

    (copy,) = read_topic(
        gateway.bootstrap,
        gateway.topic("probation-spoc-north"),
        exchange_id=exchange_id,
        expect=1,
    )
    assert copy["headers"]["delivery-id"] in body["delivery_ids"]
    record = copy["value"]["record"]
    assert record["case_reference"] == "HRU-2026-0171"
    assert "sleeps rough" not in json.dumps(record)  # the policy's minimisation held
    gateway.wait_drained()
    for other in ("probation-spoc-east", "probation-spoc-west"):
        topic = gateway.topic(other)
        assert read_topic(gateway.bootstrap, topic, exchange_id=exchange_id, expect=0) == []

    assert _open_item(coordinator, exchange_id) is None  # a routed item leaves the queue
    with gateway.store.engine.connect() as conn:
        row = conn.execute(sa.select(unrouted).where(unrouted.c.exchange_id == exchange_id)).one()
    assert (row.status, row.routed_by, row.routed_to) == (
        "routed",
        "person:cora",
        "probation-spoc-north",
    )
    (alteration,) = _entries(gateway, exchange_id, "alteration")
    assert alteration["actor"] == "person:cora"
    assert alteration["place"] == {"probation_pdu": "North"}
    disclosures = [
        e for e in _entries(gateway, exchange_id, "disclosure") if e["actor"] == "person:cora"
    ]
    assert [d["recipient"] for d in disclosures] == ["probation-spoc-north"]
    assert verify_engine(gateway.store.engine).ok

    # the sender sees the copy among its exchange's deliveries
    with gateway.client("cheshire-police") as client:
        status = client.get(f"/v1/exchanges/{exchange_id}").json()
    assert "probation-spoc-north" in [d["recipient"] for d in status["deliveries"]]
    north = next(d for d in status["decisions"] if d["recipient"] == "probation-spoc-north")
    assert north["effect"] == "permit" and north["routed_by"] == "person:cora"
    # routed once: routing it again is no open item
    again = coordinator.post(
        f"/v1/unrouted/{exchange_id}/route",
        json={"recipient": "probation-spoc-north", "place": {"probation_pdu": "North"}},
        headers={"X-CSRF-Token": csrf},
    )
    _problem(again, 404, "not-found")


def test_a_recipient_the_policy_refuses_is_a_422_with_the_reason(gateway):
    exchange_id = _submit_no_fixed_abode(gateway)["exchange_id"]
    coordinator, csrf = _person(gateway, "cora")
    answer = coordinator.post(
        f"/v1/unrouted/{exchange_id}/route",
        json={"recipient": "probation-spoc-east", "place": {"probation_pdu": "North"}},
        headers={"X-CSRF-Token": csrf},
    )
    body = _problem(answer, 422, "recipient-not-permitted")
    assert "probation-spoc-east" in body["detail"]
    assert _open_item(coordinator, exchange_id) is not None  # still waiting
    assert _entries(gateway, exchange_id, "alteration") == []


def test_routing_by_local_authority_works_too(gateway):
    exchange_id = _submit_no_fixed_abode(gateway)["exchange_id"]
    coordinator, csrf = _person(gateway, "cora")
    answer = coordinator.post(
        f"/v1/unrouted/{exchange_id}/route",
        json={
            "recipient": "probation-spoc-west",
            "place": {"local_authority": "Cheshire West and Chester"},
        },
        headers={"X-CSRF-Token": csrf},
    )
    assert answer.status_code == 200, answer.text
    read_topic(
        gateway.bootstrap, gateway.topic("probation-spoc-west"), exchange_id=exchange_id, expect=1
    )


def test_only_a_coordinator_with_the_csrf_token_may_route(gateway):
    exchange_id = _submit_no_fixed_abode(gateway)["exchange_id"]
    spoc, csrf = _person(gateway, "sam")
    _problem(spoc.get("/v1/unrouted"), 403, "role-required")
    route = {"recipient": "probation-spoc-north", "place": {"probation_pdu": "North"}}
    answer = spoc.post(
        f"/v1/unrouted/{exchange_id}/route", json=route, headers={"X-CSRF-Token": csrf}
    )
    _problem(answer, 403, "role-required")
    coordinator, _ = _person(gateway, "cora")
    _problem(
        coordinator.post(f"/v1/unrouted/{exchange_id}/route", json=route), 403, "csrf-rejected"
    )
    with httpx.Client(base_url=gateway.base_url) as nobody:
        _problem(nobody.get("/v1/unrouted"), 401, "not-signed-in")
    with gateway.client("cheshire-police") as partner_system:  # people only
        _problem(partner_system.get("/v1/unrouted"), 401, "not-signed-in")
    assert _open_item(coordinator, exchange_id) is not None
    assert _entries(gateway, exchange_id, "alteration") == []


def test_a_withdrawn_record_leaves_the_queue(gateway):
    exchange_id = _submit_no_fixed_abode(gateway)["exchange_id"]
    with gateway.client("cheshire-police") as client:
        answer = client.post(f"/v1/exchanges/{exchange_id}/withdrawal", json={"reason": "other"})
    assert answer.status_code == 200, answer.text
    coordinator, _ = _person(gateway, "cora")
    assert _open_item(coordinator, exchange_id) is None


def test_a_corrected_record_leaves_the_queue_and_its_correction_joins_it(gateway):
    exchange_id = _submit_no_fixed_abode(gateway)["exchange_id"]
    with gateway.client("cheshire-police") as client:
        answer = client.post(
            f"/v1/exchanges/{exchange_id}/correction",
            content=NO_FIXED_ABODE.read_bytes(),
            headers={"Content-Type": "application/json"},
        )
    assert answer.status_code == 202, answer.text
    correction = answer.json()
    assert sorted(correction["unrouted"]) == SPOCS  # still no place to route it by
    coordinator, _ = _person(gateway, "cora")
    assert _open_item(coordinator, exchange_id) is None
    assert _open_item(coordinator, correction["exchange_id"]) is not None


def test_a_correction_reaches_the_spoc_a_coordinator_routed_the_original_to(gateway):
    """The correction gives no place either: the coordinator's place decides it again,
    so the SPOC that holds the original gets the correction, not a withdrawal."""
    exchange_id = _submit_no_fixed_abode(gateway)["exchange_id"]
    coordinator, csrf = _person(gateway, "cora")
    routed = coordinator.post(
        f"/v1/unrouted/{exchange_id}/route",
        json={"recipient": "probation-spoc-north", "place": {"probation_pdu": "North"}},
        headers={"X-CSRF-Token": csrf},
    )
    assert routed.status_code == 200, routed.text
    corrected = json.loads(NO_FIXED_ABODE.read_text())
    corrected["occurrence"]["status"] = "charged"
    with gateway.client("cheshire-police") as client:
        answer = client.post(f"/v1/exchanges/{exchange_id}/correction", json=corrected)
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert "probation-spoc-north" in body["recipients"]
    assert body["withdrawn_from"] == []
    (copy,) = read_topic(
        gateway.bootstrap,
        gateway.topic("probation-spoc-north"),
        exchange_id=body["exchange_id"],
        expect=1,
    )
    assert copy["headers"]["kind"] == "correction"
    assert copy["value"]["record"]["payload"]["crime"]["status"] == "charged"
