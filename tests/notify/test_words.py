"""The words of a notification, and the guard that keeps personal data out of them:
no function on the way to a person takes a record, so none can leak one."""

from __future__ import annotations

import dataclasses
import inspect
import random
import string
import uuid

import pytest

from gateway.notify import (
    Contacts,
    GovukNotifyChannel,
    Notifier,
    SmtpEmailChannel,
    UnsafeWords,
    inbox_link,
    words,
)
from gateway.notify.message import check_desk_name, check_link

BASE = "https://gateway.example"
ITEM = "0192f3a4-5b6c-7d8e-9f01-23456789abcd"
LINK = f"{BASE}/inbox/{ITEM}"


def test_the_words():
    said = words("North PDU probation SPOC", LINK)
    assert said.subject == "An urgent alert is waiting for North PDU probation SPOC"
    assert said.body == (
        "An urgent alert is waiting for North PDU probation SPOC.\n"
        "\n"
        "Open it in the information-sharing gateway:\n"
        f"{LINK}\n"
        "\n"
        "This message holds no details of the alert: sign in to read it.\n"
    )
    assert said.sms == f"An urgent alert is waiting for North PDU probation SPOC: {LINK}"


def test_the_link_is_the_base_url_and_the_item_id():
    assert inbox_link(BASE, ITEM) == LINK
    assert inbox_link(BASE + "/", ITEM.upper()) == LINK
    assert inbox_link("https://isg.cheshire.example/gateway", ITEM) == (
        f"https://isg.cheshire.example/gateway/inbox/{ITEM}"
    )


@pytest.mark.parametrize(
    "item_id",
    [
        "Jane Smith",
        "CHE-2026-000123",  # a case reference
        "9434765919",  # an NHS number
        "26/123456A",  # a PNC id
        f"{ITEM}?name=Jane",
        f"../{ITEM}",
        f"{{{ITEM}}}",
        ITEM.replace("-", ""),
        "",
    ],
)
def test_an_item_id_that_is_not_a_uuid_is_refused(item_id: str):
    with pytest.raises(UnsafeWords):
        inbox_link(BASE, item_id)


@pytest.mark.parametrize(
    "desk_name",
    [
        "",
        "North PDU\r\nBcc: someone@else.example",
        "North PDU\nprobation",
        "x" * 81,
        "<script>",
        "Victim: jane@example.org",
    ],
)
def test_a_desk_name_that_is_not_one_short_line_is_refused(desk_name: str):
    with pytest.raises(UnsafeWords):
        check_desk_name(desk_name)


@pytest.mark.parametrize(
    "link",
    [
        f"{LINK}?nhs=9434765919",
        f"{LINK}#Jane-Smith",
        f"{BASE}/inbox/Jane-Smith",
        f"{BASE}/cases/{ITEM}",
        f"ftp://gateway.example/inbox/{ITEM}",
        f"{LINK}/CHE-2026-000123",
        f"https://user:pass@gateway.example/inbox/{ITEM}",
        f"{LINK} Jane Smith",
    ],
)
def test_a_link_with_anything_but_the_inbox_item_is_refused(link: str):
    with pytest.raises(UnsafeWords):
        check_link(link)


def _parameters(function: object) -> list[str]:
    return [p for p in inspect.signature(function).parameters if p != "self"]  # type: ignore[arg-type]


def test_no_way_to_a_person_takes_a_record():
    """The guard is the interface: a desk name, a link (or the item id it is built
    from) and the person's own contact, nothing else."""
    assert _parameters(words) == ["desk_name", "link"]
    assert _parameters(inbox_link) == ["public_base_url", "item_id"]
    assert _parameters(SmtpEmailChannel.send) == ["contact", "desk_name", "link"]
    assert _parameters(GovukNotifyChannel.send) == ["contact", "desk_name", "link"]
    assert _parameters(Notifier.notify) == ["contacts", "desk_name", "item_id"]
    assert [f.name for f in dataclasses.fields(Contacts)] == ["email", "mobile", "channels"]
    for function in (words, inbox_link, SmtpEmailChannel.send, GovukNotifyChannel.send):
        annotations = inspect.get_annotations(function)
        assert all(a == "str" for k, a in annotations.items() if k != "return"), function


FIRST = ["Jane", "Amira", "Siobhan", "Tomasz", "Oluwaseun", "Gareth", "Mei", "Priya"]
LAST = ["Smith", "O'Neill", "Kowalski", "Adeyemi", "Jones", "Chen", "Patel", "Hughes"]
STREETS = ["Bridge Street", "Orford Lane", "Sankey Way", "Wilderspool Causeway"]
DESKS = [
    "North PDU probation SPOC",
    "Cheshire Police HRU duty officer",
    "Mersey Care forensic psychology",
    "IDVA service (Warrington)",
]


def record_like(rng: random.Random) -> dict[str, str]:
    """A random record's values as a partner might send them."""
    name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    return {
        "name": name,
        "surname": name.split()[1],
        "date_of_birth": f"{rng.randint(1950, 2008)}-{rng.randint(1, 12):02d}-"
        f"{rng.randint(1, 28):02d}",
        "nhs_number": "".join(rng.choices(string.digits, k=10)),
        "pnc_id": f"{rng.randint(0, 26):02d}/{rng.randint(100000, 999999)}{rng.choice('ABCDEFGH')}",
        "address": f"{rng.randint(1, 200)} {rng.choice(STREETS)}, Warrington",
        "postcode": f"WA{rng.randint(1, 16)} {rng.randint(0, 9)}"
        f"{rng.choice('ABDEFGHJ')}{rng.choice('LNPQRSTU')}",
        "case_reference": f"CHE-{rng.randint(2020, 2026)}-{rng.randint(0, 999999):06d}",
        "email": f"{name.split()[0].lower()}.{rng.randint(1, 99)}@example.org",
        "mobile": f"07700{rng.randint(900000, 900999)}",
        "circumstances": f"{name} was followed from {rng.choice(STREETS)} on three nights",
    }


def _random_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128)))


@pytest.mark.parametrize("seed", range(200))
def test_the_words_hold_the_desk_name_and_link_and_nothing_of_a_record(seed: int):
    rng = random.Random(seed)
    record = record_like(rng)
    desk, link = rng.choice(DESKS), inbox_link(BASE, _random_uuid(rng))
    said = words(desk, link)
    for text in (said.subject, said.body, said.sms):
        for value in record.values():
            assert value not in text
    # Take the desk name and link out and what is left is the same fixed text.
    skeleton = words("DESK", f"{BASE}/inbox/{uuid.UUID(int=0)}")
    assert said.body.replace(desk, "DESK").replace(link, f"{BASE}/inbox/{uuid.UUID(int=0)}") == (
        skeleton.body
    )


@pytest.mark.parametrize("seed", range(200))
def test_a_record_value_cannot_be_slipped_in_as_the_item_or_the_link(seed: int):
    """Where a caller could try (the item id, the link), a record's values are refused."""
    rng = random.Random(seed)
    for value in record_like(rng).values():
        with pytest.raises(UnsafeWords):
            inbox_link(BASE, value)
        with pytest.raises(UnsafeWords):
            check_link(f"{BASE}/inbox/{_random_uuid(rng)}?q={value}")
        with pytest.raises(UnsafeWords):
            check_link(f"{BASE}/inbox/{value}")
