"""MARAC referrals and meeting feeds (``marac/1``)."""

from __future__ import annotations

from typing import Any

from adapters.base import (
    Adapter,
    IngestContext,
    Parsed,
    Rendered,
    build_canonical,
    json_rendering,
    load_json,
    validate_native,
)
from adapters.marac.mapping import (
    FORMAT,
    case_to_canonical,
    check_meeting,
    check_referral,
    from_canonical,
    referral_to_canonical,
)
from adapters.marac.native import MaracMeetingFeed, MaracReferral
from gateway.errors import FieldProblem, InvalidRecord, MalformedBody

KINDS = ("referral", "meeting")


class MaracAdapter(Adapter):
    name = "marac"
    media_types = ("application/json",)
    summary = "MARAC referrals (DASH, consent) and meeting feeds (lists, actions, outcomes)"

    def parse(self, body: bytes, media_type: str, context: IngestContext) -> Parsed:
        self.check_media_type(media_type)
        data = load_json(body)
        if not isinstance(data, dict):
            raise MalformedBody(f"a {FORMAT} document is a JSON object")
        kind = data.get("kind")
        if kind == "referral":
            referral = validate_native(MaracReferral, data, "MARAC referral")
            check_referral(referral)
            exchange = build_canonical(
                lambda: referral_to_canonical(referral, context), "MARAC referral"
            )
            return Parsed([exchange])
        if kind == "meeting":
            feed = validate_native(MaracMeetingFeed, data, "MARAC meeting feed")
            check_meeting(feed)
            return Parsed(
                [
                    build_canonical(
                        lambda c=case: case_to_canonical(feed, c, context),
                        "MARAC meeting case",
                        index,
                    )
                    for index, case in enumerate(feed.cases)
                ]
            )
        raise InvalidRecord(
            "the MARAC document has no known kind",
            [FieldProblem("kind", f"must be one of {', '.join(KINDS)}; got {kind!r}")],
        )

    def render(self, record: dict[str, Any]) -> Rendered:
        return json_rendering(from_canonical(record), self.media_types[0])


__all__ = ["MaracAdapter"]
