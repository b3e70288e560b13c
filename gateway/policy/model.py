"""Typed model of a policy bundle: the information-sharing agreement as data."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field


class _Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class Agreement(_Policy):
    id: str
    title: str
    version: str


class Party(_Policy):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str
    kind: str = Field(description="police, nhs-trust, probation-spoc, victim-advocate, ...")


class Purpose(_Policy):
    id: str
    description: str


class LawfulBasis(_Policy):
    id: str
    citation: str = Field(description="e.g. 'DPA 2018 Part 3 s31 (law enforcement purposes)'")


class Flow(_Policy):
    """Permission for one sender to share some categories with some recipients."""

    id: str
    description: str = ""
    sender: str = Field(alias="from")
    recipients: list[str] = Field(alias="to", min_length=1)
    categories: list[str] = Field(min_length=1)
    purposes: list[str] = Field(min_length=1)
    lawful_basis: str
    fields: list[str] = Field(min_length=1, description="Allow list of canonical field paths")
    valid_from: date | None = None
    valid_until: date | None = None


class PolicyDocument(_Policy):
    """One YAML file; a bundle is every document in a directory merged."""

    agreement: Agreement | None = None
    parties: list[Party] = Field(default_factory=list)
    purposes: list[Purpose] = Field(default_factory=list)
    lawful_bases: list[LawfulBasis] = Field(default_factory=list)
    flows: list[Flow] = Field(default_factory=list)
