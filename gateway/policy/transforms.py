"""The minimisation transforms a flow can apply to a field's value.

Each takes the value and a :class:`Context` (the recipient, the record's date,
the pseudonym key) and returns what crosses. None of them ever logs a value.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from gateway.policy.model import FieldRule, Transform

REDACTED = "[redacted]"
AGE_BANDS = ((18, "under 18"), (25, "18-24"), (35, "25-34"), (45, "35-44"), (55, "45-54"))
ELLIPSIS = "…"


class PseudonymKeyMissing(ValueError):
    """A flow pseudonymises but the gateway has no key: refuse rather than hash unkeyed."""


@dataclass
class Context:
    recipient: str
    on: date
    key: bytes
    _recipient_key: bytes | None = field(default=None, repr=False)

    def recipient_key(self) -> bytes:
        """A key per recipient, so two recipients cannot join their pseudonyms."""
        if self._recipient_key is None:
            if not self.key:
                raise PseudonymKeyMissing("pseudonymisation needs a key from configuration")
            self._recipient_key = _derive(self.key, self.recipient)
        return self._recipient_key


@lru_cache(maxsize=256)
def _derive(key: bytes, recipient: str) -> bytes:
    return hmac.new(key, recipient.encode(), "sha256").digest()


def as_date(value: Any) -> date | None:
    """A date, datetime or ISO text as a date; None when it is none of those."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def age_band(value: Any, ctx: Context, rule: FieldRule) -> Any:
    born = as_date(value)
    if born is None:
        return REDACTED
    age = ctx.on.year - born.year - ((ctx.on.month, ctx.on.day) < (born.month, born.day))
    for limit, label in AGE_BANDS:
        if age < limit:
            return label
    return "55+"


def postcode_district(value: Any, ctx: Context, rule: FieldRule) -> Any:
    """The outward code: ``WA1 1AA`` -> ``WA1``."""
    text = str(value).strip().upper()
    if " " in text:
        return text.split()[0]
    return text[:-3] if len(text) > 4 else text


def truncate(value: Any, ctx: Context, rule: FieldRule) -> Any:
    text = str(value)
    limit = rule.max_length or len(text)
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + ELLIPSIS


def mask(value: Any, ctx: Context, rule: FieldRule) -> Any:
    text = str(value)
    shown = rule.keep_last if rule.keep_last < len(text) else 0
    return "*" * (len(text) - shown) + (text[-shown:] if shown else "")


def redact(value: Any, ctx: Context, rule: FieldRule) -> Any:
    return REDACTED


def pseudonymise(value: Any, ctx: Context, rule: FieldRule) -> Any:
    digest = hmac.new(ctx.recipient_key(), str(value).encode(), hashlib.sha256).hexdigest()
    return "pn-" + digest[:32]


def keep(value: Any, ctx: Context, rule: FieldRule) -> Any:
    return value


TRANSFORMS: dict[Transform, Callable[[Any, Context, FieldRule], Any]] = {
    Transform.KEEP: keep,
    Transform.REDACT: redact,
    Transform.MASK: mask,
    Transform.AGE_BAND: age_band,
    Transform.POSTCODE_DISTRICT: postcode_district,
    Transform.TRUNCATE: truncate,
    Transform.PSEUDONYMISE: pseudonymise,
}
