"""Copy a real sample agreement and change it, to test what a bad edit does."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.policy.conftest import ROOT


def copy_agreement(tmp_path: Path, name: str = "cheshire-hru") -> Path:
    target = tmp_path / name
    shutil.copytree(ROOT / "policies" / name, target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path.name}")


def share_the_summary_with_the_probation_spocs(policy: Path) -> None:
    """Edit a copy of cheshire-hru so the crime flow to the probation SPOCs also shares
    the free-text summary, under the special category condition free text needs."""
    edit(
        policy / "flows.yaml",
        "      - payload.crime.status\n",
        "      - payload.crime.status\n      - payload.crime.summary\n",
    )
    edit(
        policy / "flows.yaml",
        "    lawful_basis: dpa-part3-law-enforcement\n    when: &perpetrator-in-pdu\n",
        "    lawful_basis: dpa-part3-law-enforcement\n"
        "    special_category_condition: dpa-part3-sensitive-processing\n"
        "    when: &perpetrator-in-pdu\n",
    )
