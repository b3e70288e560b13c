"""What the MARAC and MAPPA meeting formats share: their action list.

Both feeds (``marac/1`` and ``mappa/1``) carry a meeting's actions in one
native shape, ``{id, owner, action, due, status}``, mapped to and from the
canonical ``MeetingAction`` here, once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any, Literal

from pydantic import Field

from adapters.base import NativeModel
from contracts import MeetingAction


class NativeAction(NativeModel):
    id: str = Field(min_length=1)
    owner: str = Field(min_length=1, description="Agency that owns the action")
    action: str = Field(min_length=1)
    due: date | None = None
    status: Literal["open", "done", "cancelled"] = "open"


def canonical_actions(
    actions: Iterable[NativeAction], case_reference: str | None
) -> list[MeetingAction]:
    return [
        MeetingAction(
            action_id=a.id,
            case_reference=case_reference,
            owner=a.owner,
            description=a.action,
            due_on=a.due,
            status=a.status,
        )
        for a in actions
    ]


def native_actions(actions: Iterable[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Canonical actions (as JSON) in the native shape; absent fields stay None."""
    return [
        {
            "id": a.get("action_id"),
            "owner": a.get("owner"),
            "action": a.get("description"),
            "due": a.get("due_on"),
            "status": a.get("status"),
        }
        for a in actions or []
    ]
