"""GOV.UK Notify through its official client, against a loopback server that speaks
Notify's API and checks the client's JWT as Notify does."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import jwt
import pytest

from gateway.embedded.broker import free_port
from gateway.notify import GovukNotifyChannel, NotificationFailed
from tests.notify.notify_server import (
    API_KEY,
    EMAIL_TEMPLATE,
    SECRET,
    SERVICE_ID,
    SMS_TEMPLATE,
    WRONG_SECRET_KEY,
    FakeNotify,
    notify_server,
)

DESK = "Cheshire Police HRU duty officer"
LINK = f"https://gateway.example/inbox/{uuid.UUID(int=42)}"
EMAIL = "duty.officer@cheshire.police.uk"
MOBILE = "07700900123"


@pytest.fixture
def fake() -> Iterator[FakeNotify]:
    fake = FakeNotify()
    with notify_server(fake):
        yield fake


def channel(fake: FakeNotify, kind: str = "email", **options: object) -> GovukNotifyChannel:
    settings: dict[str, object] = dict(
        kind=kind,
        api_key=API_KEY,
        template_id=EMAIL_TEMPLATE if kind == "email" else SMS_TEMPLATE,
        base_url=fake.base_url,
        timeout_seconds=5.0,
        attempts=3,
        backoff_seconds=0.01,
    )
    settings.update(options)
    return GovukNotifyChannel(**settings)  # type: ignore[arg-type]


def test_an_email_carries_only_the_desk_name_and_link(fake: FakeNotify):
    notification_id = channel(fake).send(EMAIL, DESK, LINK)
    uuid.UUID(notification_id)
    [request] = fake.requests
    assert request == {
        "kind": "email",
        "email_address": EMAIL,
        "template_id": EMAIL_TEMPLATE,
        "personalisation": {"desk_name": DESK, "link": LINK},
    }


def test_a_text_message_carries_only_the_desk_name_and_link(fake: FakeNotify):
    channel(fake, "sms").send(MOBILE, DESK, LINK)
    [request] = fake.requests
    assert request == {
        "kind": "sms",
        "phone_number": MOBILE,
        "template_id": SMS_TEMPLATE,
        "personalisation": {"desk_name": DESK, "link": LINK},
    }


def test_a_template_notify_does_not_know_is_permanent(fake: FakeNotify):
    sender = channel(fake, template_id=str(uuid.UUID(int=99)))
    with pytest.raises(NotificationFailed) as failed:
        sender.send(EMAIL, DESK, LINK)
    assert failed.value.permanent
    assert failed.value.detail == "notify 400: BadRequestError: Template not found"
    assert fake.attempts == 1


def test_an_sms_template_for_an_email_is_permanent(fake: FakeNotify):
    with pytest.raises(NotificationFailed) as failed:
        channel(fake, template_id=SMS_TEMPLATE).send(EMAIL, DESK, LINK)
    assert failed.value.permanent
    assert "sms template is not suitable for email notification" in failed.value.detail


def test_a_key_with_the_wrong_secret_is_refused_by_the_token_check(fake: FakeNotify):
    with pytest.raises(NotificationFailed) as failed:
        channel(fake, api_key=WRONG_SECRET_KEY).send(EMAIL, DESK, LINK)
    assert failed.value.permanent
    assert failed.value.detail.startswith("notify 403: AuthError: Invalid token: signature")
    assert fake.requests == []


def test_a_server_error_is_retried(fake: FakeNotify):
    fake.fail_first = [500, 429]
    notification_id = channel(fake).send(EMAIL, DESK, LINK)
    assert fake.attempts == 3
    assert len(fake.requests) == 1
    uuid.UUID(notification_id)


def test_a_server_error_every_time_is_temporary(fake: FakeNotify):
    fake.fail_first = [503] * 5
    with pytest.raises(NotificationFailed) as failed:
        channel(fake, attempts=2).send(EMAIL, DESK, LINK)
    assert not failed.value.permanent
    assert fake.attempts == 2
    assert "after 2 attempts" in failed.value.detail


def test_notify_unreachable_is_temporary():
    sender = GovukNotifyChannel(
        kind="sms",
        api_key=API_KEY,
        template_id=SMS_TEMPLATE,
        base_url=f"http://127.0.0.1:{free_port()}",
        attempts=2,
        backoff_seconds=0.01,
    )
    with pytest.raises(NotificationFailed) as failed:
        sender.send(MOBILE, DESK, LINK)
    assert not failed.value.permanent


def test_threads_share_one_channel(fake: FakeNotify):
    sender = channel(fake, "sms")
    ids: list[str] = []
    lock = threading.Lock()

    def send(n: int) -> None:
        notification_id = sender.send(f"0770090{n:04d}", DESK, LINK)
        with lock:
            ids.append(notification_id)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(ids)) == 8
    assert sorted(r["phone_number"] for r in fake.requests) == [f"0770090{n:04d}" for n in range(8)]


# The fake's own token check, so the tests above can trust a 201 means a good token.


def _post(fake: FakeNotify, headers: dict[str, str]) -> httpx.Response:
    body = {"email_address": EMAIL, "template_id": EMAIL_TEMPLATE}
    return httpx.post(f"{fake.base_url}/v2/notifications/email", json=body, headers=headers)


def _token(claims: dict[str, object], key: str = SECRET, alg: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=alg)


@pytest.mark.parametrize(
    ("claims", "key", "status", "message"),
    [
        ({"iss": SERVICE_ID}, SECRET, 403, "Invalid token: signature"),
        ({"iat": "now"}, SECRET, 403, "Invalid token: service not found"),
        ({"iss": SERVICE_ID, "iat": "old"}, SECRET, 403, "clock must be accurate"),
        ({"iss": SERVICE_ID, "iat": "future"}, SECRET, 403, "clock must be accurate"),
        ({"iss": str(uuid.UUID(int=5)), "iat": "now"}, SECRET, 403, "service not found"),
        (
            {"iss": SERVICE_ID, "iat": "now"},
            "another-secret-entirely-of-32-bytes-or-more",
            403,
            "signature",
        ),
    ],
)
def test_the_fake_checks_tokens_as_notify_does(fake, claims, key, status, message):
    now = int(time.time())
    when = {"now": now, "old": now - 120, "future": now + 120}
    claims = {k: when.get(v, v) if k == "iat" else v for k, v in claims.items()}
    answer = _post(fake, {"Authorization": f"Bearer {_token(claims, key)}"})
    assert answer.status_code == status
    [error] = answer.json()["errors"]
    assert error["error"] == "AuthError"
    assert message in error["message"]


def test_the_fake_wants_a_token_and_answers_a_good_one_like_notify(fake: FakeNotify):
    assert _post(fake, {}).status_code == 401
    token = _token({"iss": SERVICE_ID, "iat": int(time.time())})
    answer = _post(fake, {"Authorization": f"Bearer {token}"})
    assert answer.status_code == 400  # no personalisation: the template wants two
    assert answer.json()["errors"][0]["message"] == "Missing personalisation: desk_name, link"
    body = {
        "email_address": EMAIL,
        "template_id": EMAIL_TEMPLATE,
        "personalisation": {"desk_name": DESK, "link": LINK},
    }
    created = httpx.post(
        f"{fake.base_url}/v2/notifications/email",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert created.status_code == 201
    notification = created.json()
    assert set(notification) == {
        "id", "reference", "content", "uri", "template", "scheduled_for"
    }  # fmt: skip
    assert notification["content"]["subject"] == f"An urgent alert is waiting for {DESK}"
    assert LINK in notification["content"]["body"]
