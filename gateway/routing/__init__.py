"""Routing as data: who at a permitted party receives a copy now, and who next.

The policy (``gateway.policy``) decides which organisation may receive;
routes beside it (``<policy dir>/routes/``) decide the desk there, by hours,
urgency, place and the officer the record names, and the escalation chain
if nobody acknowledges. See ``docs/routing.md``.
"""

from gateway.routing.load import load_routes
from gateway.routing.plan import Desk, RoutePlan, Routes, Step

__all__ = ["Desk", "RoutePlan", "Routes", "Step", "load_routes"]
