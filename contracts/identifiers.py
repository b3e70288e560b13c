"""What a valid person identifier looks like, shared by every format that carries one.

The systems themselves are :class:`contracts.IdentifierSystem`; this module
says how their values are written, so two partner formats that carry a CRN
check it the same way.
"""

from __future__ import annotations

import re

#: nDelius case reference number: a letter and six digits.
CRN_PATTERN = re.compile(r"^[A-Z]\d{6}$")
#: Prison (NOMS) number: a letter, four digits, two letters.
NOMS_PATTERN = re.compile(r"^[A-Z]\d{4}[A-Z]{2}$")


def nhs_number_is_valid(value: str) -> bool:
    """Modulus 11 check of a 10-digit NHS number."""
    digits = value.replace(" ", "")
    if len(digits) != 10 or not digits.isdigit():
        return False
    total = sum(int(d) * (10 - i) for i, d in enumerate(digits[:9]))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])
