"""The words of a notification, from a desk name and a link only.

The secure email services are for the alert itself; a notification only says where to
look. So nothing here takes a record: what a function is not given it cannot leak.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

# A desk name is configuration ("North PDU probation SPOC"): one short line, so it can
# be a Subject header and an SMS without folding or injection.
_DESK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 &'(),./:-]{0,79}")
_LINK = re.compile(
    r"https?://[A-Za-z0-9.:\[\]-]+(?:/[A-Za-z0-9._~-]+)*/inbox/"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)
SUBJECT = "An urgent alert is waiting for {desk_name}"
BODY = (
    "An urgent alert is waiting for {desk_name}.\n"
    "\n"
    "Open it in the information-sharing gateway:\n"
    "{link}\n"
    "\n"
    "This message holds no details of the alert: sign in to read it.\n"
)
SMS = "An urgent alert is waiting for {desk_name}: {link}"


class UnsafeWords(ValueError):
    """A desk name or link that could carry more than where to look."""


@dataclass(frozen=True)
class Words:
    subject: str
    body: str
    sms: str


def inbox_link(public_base_url: str, item_id: str) -> str:
    """The link to an inbox item. The id must be a UUID, so it can be nothing but
    opaque: never a name, an identifier or a case reference."""
    try:
        canonical = str(uuid.UUID(item_id))
    except (ValueError, AttributeError, TypeError):
        raise UnsafeWords("an inbox item id must be a UUID") from None
    if canonical != item_id.lower():
        raise UnsafeWords("an inbox item id must be a UUID in its usual form")
    return f"{public_base_url.rstrip('/')}/inbox/{canonical}"


def check_desk_name(desk_name: str) -> str:
    if not _DESK_NAME.fullmatch(desk_name):
        raise UnsafeWords(
            "a desk name is one line of at most 80 letters, digits, spaces and & ' ( ) , . / : -"
        )
    return desk_name


def check_link(link: str) -> str:
    if not _LINK.fullmatch(link):
        raise UnsafeWords("a link is <public base URL>/inbox/<uuid>, no query or fragment")
    return link


def words(desk_name: str, link: str) -> Words:
    """Subject, email body and text message, saying only who should look and where."""
    values = {"desk_name": check_desk_name(desk_name), "link": check_link(link)}
    return Words(SUBJECT.format(**values), BODY.format(**values), SMS.format(**values))
