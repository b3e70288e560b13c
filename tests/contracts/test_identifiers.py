"""How identifier values are written: one check per system, whichever format carries it."""

from __future__ import annotations

import pytest

from contracts import CRN_PATTERN, NOMS_PATTERN, nhs_number_is_valid


def test_nhs_number_modulus_11():
    assert nhs_number_is_valid("9434765919")
    assert nhs_number_is_valid("943 476 5919")
    assert not nhs_number_is_valid("9434765918")
    assert not nhs_number_is_valid("943476591")


@pytest.mark.parametrize(
    ("value", "ok"), [("X123456", True), ("x123456", False), ("X12345", False)]
)
def test_crn_is_a_letter_and_six_digits(value, ok):
    assert bool(CRN_PATTERN.match(value)) is ok


@pytest.mark.parametrize(
    ("value", "ok"), [("A1234BC", True), ("A1234B", False), ("11234BC", False)]
)
def test_noms_number_is_a_letter_four_digits_two_letters(value, ok):
    assert bool(NOMS_PATTERN.match(value)) is ok
