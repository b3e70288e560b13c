"""Which offence class a police offence is, from its Act and section.

Forces send Home Office codes that vary between systems, but the Act and
section do not, so the classification keys on those. A record may also name
its class outright (``offence.classification``), which wins.
"""

from __future__ import annotations

from contracts import OffenceClass

PHA_1997 = "Protection from Harassment Act 1997"

#: (Act, section) -> class, for the offence types the stalking screening covers.
BY_LEGISLATION: dict[tuple[str, str], OffenceClass] = {
    (PHA_1997, "2A"): OffenceClass.STALKING_S2A,
    (PHA_1997, "4A"): OffenceClass.STALKING_S4A,
    (PHA_1997, "2"): OffenceClass.HARASSMENT_S2,
    (PHA_1997, "4"): OffenceClass.HARASSMENT_S4,
    ("Crime and Disorder Act 1998", "32"): OffenceClass.RACIALLY_AGGRAVATED_HARASSMENT,
    ("Family Law Act 1996", "42A"): OffenceClass.BREACH_NON_MOLESTATION_ORDER,
    ("Stalking Protection Act 2019", "8"): OffenceClass.BREACH_SPO,
}


def classify(act: str | None, section: str | None, named: str | None = None) -> OffenceClass:
    """The class a record names, else the one its legislation implies, else ``other``."""
    if named:
        return OffenceClass(named)
    key = ((act or "").strip().lower(), (section or "").strip().upper())
    for (known_act, known_section), offence_class in BY_LEGISLATION.items():
        if key == (known_act.lower(), known_section):
            return offence_class
    return OffenceClass.OTHER
