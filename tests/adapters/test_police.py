"""Police adapter: single records, offence classes and the daily screening batch."""

from __future__ import annotations

import csv
import io
import json

import pytest

from adapters.base import MAX_BATCH_ROWS, BatchTooLarge
from adapters.police.screening import COLUMNS
from contracts import Exchange
from gateway.errors import InvalidRecord, MalformedBody, UnsupportedMediaType
from tests.adapters.helpers import EXAMPLES, parse

CRIME = json.loads((EXAMPLES / "police" / "stalking-crime.json").read_text())
GOOD_ROW = {
    "occurrence_number": "CC-2026-009001",
    "reported": "2026-11-25T08:00:00Z",
    "ho_code": "8Q",
    "act": "Protection from Harassment Act 1997",
    "section": "2A",
    "suspect_pnc_id": "12/345678A",
}


def _csv(rows: list[dict], columns=COLUMNS) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def _crime(**changes) -> dict:
    record = json.loads(json.dumps(CRIME))
    record.update(changes)
    return record


def test_malformed_json_is_refused():
    with pytest.raises(MalformedBody, match="line 1"):
        parse("police", b'{"format": "police-crime/1",')


def test_unsupported_media_type_is_refused():
    with pytest.raises(UnsupportedMediaType):
        parse("police", json.dumps(CRIME), "application/xml")


def test_missing_occurrence_number_names_the_field():
    record = _crime()
    del record["occurrence"]["number"]
    with pytest.raises(InvalidRecord) as caught:
        parse("police", record)
    (problem,) = caught.value.problems
    assert problem.field == "occurrence.number"
    assert problem.record is None
    assert caught.value.status == 422


def test_an_arrest_must_name_a_listed_person():
    record = _crime(arrests=[{"person_ref": "P9", "arrested": "2026-11-22T07:40:00Z"}])
    with pytest.raises(InvalidRecord) as caught:
        parse("police", record)
    assert [p.field for p in caught.value.problems] == ["arrests[0].person_ref"]


@pytest.mark.parametrize(
    ("act", "section", "named", "expected"),
    [
        ("Protection from Harassment Act 1997", "2A", None, "stalking_s2a"),
        ("Protection from Harassment Act 1997", "4A", None, "stalking_s4a"),
        ("Protection from Harassment Act 1997", "2", None, "harassment_s2"),
        ("Protection from Harassment Act 1997", "4", None, "harassment_s4"),
        ("Crime and Disorder Act 1998", "32", None, "racially_aggravated_harassment"),
        ("Family Law Act 1996", "42A", None, "breach_non_molestation_order"),
        ("Stalking Protection Act 2019", "8", None, "breach_spo"),
        ("Malicious Communications Act 1988", "1", None, "other"),
        (
            "Protection from Harassment Act 1997",
            "2A",
            "breach_community_resolution",
            "breach_community_resolution",
        ),
    ],
)
def test_offence_class(act, section, named, expected):
    record = _crime()
    record["occurrence"]["offence"].update(act=act, section=section)
    if named:
        record["occurrence"]["offence"]["classification"] = named
    (exchange,) = parse("police", record).items
    assert exchange.payload.crime.offence.offence_class == expected


def test_screening_csv_keeps_good_rows_and_names_bad_ones():
    rows = [
        GOOD_ROW,
        {**GOOD_ROW, "occurrence_number": "CC-2026-009002", "suspect_pnc_id": ""},
        {
            **GOOD_ROW,
            "occurrence_number": "CC-2026-009003",
            "risk_level": "severe",
            "risk_tool": "SASH",
        },
        {**GOOD_ROW, "occurrence_number": "CC-2026-009004"},
    ]
    parsed = parse("police", _csv(rows), "text/csv")
    assert parsed.batch is True
    good = [i for i in parsed.items if isinstance(i, Exchange)]
    bad = [i for i in parsed.items if isinstance(i, InvalidRecord)]
    assert [e.payload.crime.occurrence_number for e in good] == [
        "CC-2026-009001",
        "CC-2026-009004",
    ]
    assert [(p.record, p.field) for e in bad for p in e.problems] == [
        (1, "suspect_pnc_id"),
        (2, "risk_level"),
    ]


def test_screening_csv_ragged_row_is_that_rows_error():
    body = _csv([GOOD_ROW]) + b"CC-2026-009009,2026-11-25T08:00:00Z,8Q" + b",x" * 30 + b"\n"
    items = parse("police", body, "text/csv").items
    assert isinstance(items[0], Exchange)
    assert isinstance(items[1], InvalidRecord)
    assert items[1].problems[0].record == 1


def test_screening_csv_with_an_unknown_column_is_refused_whole():
    with pytest.raises(MalformedBody) as caught:
        parse("police", _csv([], (*COLUMNS, "victim_phone")), "text/csv")
    assert [p.field for p in caught.value.problems] == ["victim_phone"]


def test_screening_json_batch_reports_rows_by_index():
    batch = {
        "format": "police-screening/1",
        "search_date": "2026-11-25",
        "rows": [GOOD_ROW, "not a row", {**GOOD_ROW, "ho_code": ""}],
    }
    items = parse("police", batch).items
    assert isinstance(items[0], Exchange)
    assert [(p.record, p.field) for p in items[1].problems] == [(1, "(record)")]
    assert [(p.record, p.field) for p in items[2].problems] == [(2, "ho_code")]


def test_screening_json_envelope_must_be_valid():
    with pytest.raises(InvalidRecord) as caught:
        parse("police", {"format": "police-screening/1", "rows": [GOOD_ROW]})
    assert [p.field for p in caught.value.problems] == ["search_date"]


def test_a_full_batch_is_accepted():
    rows = [{**GOOD_ROW, "occurrence_number": f"CC-2026-{i:06d}"} for i in range(MAX_BATCH_ROWS)]
    items = parse("police", _csv(rows), "text/csv").items
    assert len(items) == MAX_BATCH_ROWS
    assert all(isinstance(i, Exchange) for i in items)


@pytest.mark.parametrize("shape", ["csv", "json"])
def test_an_oversized_batch_is_refused_whole(shape):
    rows = [GOOD_ROW] * (MAX_BATCH_ROWS + 1)
    if shape == "csv":
        body, media = _csv(rows), "text/csv"
    else:
        body = json.dumps(
            {"format": "police-screening/1", "search_date": "2026-11-25", "rows": rows}
        )
        media = "application/json"
    with pytest.raises(BatchTooLarge) as caught:
        parse("police", body, media)
    assert caught.value.status == 413
    assert caught.value.slug == "batch-too-large"
    assert caught.value.problems[0].field == "(batch)"
