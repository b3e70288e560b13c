"""MARAC referrals and meeting feeds (``marac/1``).

A referral or an alert is one record, accepted or refused whole. A meeting feed is a batch
of cases: each case becomes its own exchange, and a bad case is reported by its
index without holding back the others.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from adapters.base import (
    Adapter,
    IngestContext,
    Parsed,
    build_canonical,
    check_batch_size,
    check_text,
    problems_from,
    validate_native,
)
from adapters.marac.mapping import (
    FORMAT,
    alert_to_canonical,
    case_to_canonical,
    check_alert,
    check_case,
    check_referral,
    from_canonical,
    referral_to_canonical,
)
from adapters.marac.native import MaracAlert, MaracMeetingFeed, MaracReferral, NativeCase
from contracts import Exchange
from gateway.errors import FieldProblem, InvalidRecord

KINDS = ("referral", "meeting", "alert")


class MaracAdapter(Adapter):
    name = "marac"
    media_types = ("application/json",)
    summary = "MARAC referrals (DASH, consent), meeting feeds (lists, actions, outcomes) and alerts"
    render_categories = frozenset({"referral", "meeting_feed", "urgent_alert"})

    def parse(self, body: bytes, media_type: str, context: IngestContext) -> Parsed:
        data = self.read_json(body, media_type, f"a {FORMAT} document")
        kind = data.get("kind")
        if kind == "referral":
            referral = validate_native(MaracReferral, data, "MARAC referral")
            check_referral(referral)
            exchange = build_canonical(
                lambda: referral_to_canonical(referral, context), "MARAC referral"
            )
            return Parsed([exchange])
        if kind == "alert":
            alert = validate_native(MaracAlert, data, "MARAC alert")
            check_alert(alert)
            return Parsed(
                [build_canonical(lambda: alert_to_canonical(alert, context), "MARAC alert")]
            )
        if kind == "meeting":
            if isinstance(data.get("cases"), list):
                check_batch_size(len(data["cases"]))
            feed = validate_native(MaracMeetingFeed, data, "MARAC meeting feed", skip=["cases"])
            items: list[Exchange | InvalidRecord] = []
            for index, raw in enumerate(feed.cases):
                try:
                    items.append(self._case(feed, raw, index, context))
                except InvalidRecord as error:
                    items.append(error)
            return Parsed(items, batch=True)
        raise InvalidRecord(
            "the MARAC document has no known kind",
            [FieldProblem("kind", f"must be one of {', '.join(KINDS)}; got {kind!r}")],
        )

    @staticmethod
    def _case(feed: MaracMeetingFeed, raw: Any, index: int, context: IngestContext) -> Exchange:
        """One case of a meeting feed; its errors name ``cases[index]`` and record ``index``."""
        check_text(raw, f"MARAC meeting case {index}", index, prefix=f"cases[{index}]")
        try:
            case = NativeCase.model_validate(raw)
        except ValidationError as exc:
            problems = [
                FieldProblem(f"cases[{index}]." + p.field, p.message, index)
                for p in problems_from(exc)
            ]
            raise InvalidRecord(f"MARAC meeting case {index} is not valid", problems) from None
        check_case(case, index)
        return build_canonical(
            lambda: case_to_canonical(feed, case, context), "MARAC meeting case", index
        )

    def to_native(self, record: dict[str, Any]) -> dict[str, Any]:
        return from_canonical(record)


__all__ = ["MaracAdapter"]
