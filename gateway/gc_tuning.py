"""The cyclic garbage collector tuned for a serving process, because its passes cost
every exchange CPU that the gateway's objects never need (docs/benchmarks.md).

What start-up loaded (modules, models, the policy bundle) lives as long as the
process: frozen, full collections skip it. An exchange's objects die by
reference counting when its request ends, so young collections only ever
find the ones still in flight: they run rarely.
"""

from __future__ import annotations

import gc

#: Young collections after 50,000 net allocations instead of 700; the older
#: generations at their default ratios, so a full pass still comes, less often.
THRESHOLDS = (50_000, 10, 10)


def tune_for_serving() -> None:
    """Call once start-up has loaded everything the process keeps."""
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
