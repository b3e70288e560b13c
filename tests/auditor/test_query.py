"""``gateway.audit.query`` against each store directly: the subject index is filled
from the trail as it grows (entries written before subjects were named are read
from the kept envelope), a page scans a bounded number of entries and hands back a
cursor to go on, and the audit pseudonym ignores how an identifier is written."""

from __future__ import annotations

import uuid

import pytest

from gateway.audit import Action, AuditEntry
from gateway.audit import query as query_module
from gateway.audit.query import AuditQuery, BadCursor, Filters, decode_cursor, encode_cursor
from gateway.audit.subjects import normalise, subject_pseudonym
from gateway.store.audit_log import append
from gateway.store.tables import exchanges
from tests.conftest import exchange_row

KEY = b"query-test-key"
NHS = "943 476 5919"


def _exchange(store, envelope: dict) -> str:
    exchange_id = str(uuid.uuid4())
    with store.transaction() as conn:
        conn.execute(
            exchanges.insert().values(**{**exchange_row(exchange_id), "envelope": envelope})
        )
    return exchange_id


def _collection(exchange_id: str, details: dict) -> AuditEntry:
    return AuditEntry(
        action=Action.COLLECTION, actor="cheshire-police", exchange_id=exchange_id, details=details
    )


def test_the_pseudonym_ignores_spacing_and_case_and_scopes_local_ids():
    assert subject_pseudonym(KEY, "nhs_number", NHS) == subject_pseudonym(
        KEY, "nhs_number", "9434765919"
    )
    assert subject_pseudonym(KEY, "crn", "x123456") == subject_pseudonym(KEY, "crn", "X123456")
    assert subject_pseudonym(KEY, "crn", "X123456") != subject_pseudonym(
        KEY, "noms_number", "X123456"
    )
    assert subject_pseudonym(KEY, "crn", "X123456") != subject_pseudonym(b"other", "crn", "X123456")
    assert normalise("local", "ab 1", "Cheshire") == "local:cheshire:AB1"
    assert subject_pseudonym(KEY, "local", "1", "force-a") != subject_pseudonym(
        KEY, "local", "1", "force-b"
    )


def test_subjects_are_indexed_as_the_trail_grows_old_entries_from_their_envelope(fresh_store):
    pseudonym = subject_pseudonym(KEY, "nhs_number", NHS)
    subject = {
        "ref": "s1",
        "role": "victim",
        "identifiers": [{"system": "nhs_number", "value": NHS}],
    }
    # Written before entries named their subjects: only the envelope says who.
    older = _exchange(fresh_store, {"subjects": [subject]})
    # Written since: the entry names them.
    newer = _exchange(fresh_store, {"subjects": []})
    other = _exchange(fresh_store, {"subjects": []})
    with fresh_store.transaction() as conn:
        append(conn, [_collection(older, {"purpose": "x"})])
        append(conn, [_collection(newer, {"subject_pseudonyms": {pseudonym: "suspect"}})])
        append(conn, [_collection(other, {"subject_pseudonyms": {"sp-" + "0" * 32: "victim"}})])
    query = AuditQuery(fresh_store.engine, KEY)
    assert query.subject_exchanges(pseudonym) == {older: "victim", newer: "suspect"}
    assert query.index_subjects() == 0  # nothing new since

    later = _exchange(fresh_store, {"subjects": []})
    with fresh_store.transaction() as conn:
        append(conn, [_collection(later, {"subject_pseudonyms": {pseudonym: "victim"}})])
    page = query.search(Filters(subject=pseudonym))
    assert [e["exchange_id"] for e in page.entries] == [later, newer, older]
    assert page.next_cursor is None


def test_a_rare_match_answers_a_short_page_with_a_cursor_to_go_on(fresh_store, monkeypatch):
    exchange_id = _exchange(fresh_store, {"subjects": []})
    with fresh_store.transaction() as conn:
        append(conn, [_collection(exchange_id, {"rules": ["the-rare-flow"]})])
        append(
            conn,
            # Text the search's SQL matches, but whose rules are another flow's.
            [
                _collection(exchange_id, {"rules": ["a-common-flow"], "was": "the-rare-flow"})
                for _ in range(30)
            ],
        )
    monkeypatch.setattr(query_module, "MAX_SCAN", 10)
    query = AuditQuery(fresh_store.engine, KEY)
    filters = Filters(rule="the-rare-flow")
    found, cursor, pages = [], None, 0
    while True:
        page = query.search(filters, limit=5, cursor=cursor)
        pages += 1
        assert page.scanned <= 200
        found += page.entries
        cursor = page.next_cursor
        if cursor is None:
            break
    assert [e["details"]["rules"] for e in found] == [["the-rare-flow"]]
    assert pages > 1  # the first page stopped scanning before it reached the match


def test_cursors_are_checked():
    assert decode_cursor(encode_cursor(42)) == 42
    for bad in ("", "%%%", "YTI6NQ", encode_cursor(1)[:-2] + "!!"):
        with pytest.raises(BadCursor):
            decode_cursor(bad)


def test_the_dashboards_figures_are_counted_by_each_database(fresh_store):
    exchange_id = _exchange(fresh_store, {"subjects": []})

    def entry(action: str, details: dict, recipient: str | None = None) -> AuditEntry:
        return AuditEntry(
            action=action, actor="p", exchange_id=exchange_id, details=details, recipient=recipient
        )

    refused = [
        {"recipient": "a", "rules": ["default-deny"]},
        {"recipient": "b", "rules": ["no-health-to-police", "default-deny"]},
    ]
    with fresh_store.transaction() as conn:
        append(
            conn,
            [
                entry(Action.DISCLOSURE, {"rules": ["flow-a"]}, "r1"),
                entry(Action.DISCLOSURE, {"rules": ["flow-a"]}, "r2"),
                entry(Action.DISCLOSURE, {"rules": ["flow-b"]}, "r1"),
                entry(Action.REFUSAL, {"refused": refused}),
                entry(Action.REFUSAL, {"refused": refused[:1]}),
                entry(Action.UNDELIVERED, {"reason": "x"}, "r1"),
            ],
        )
    query = AuditQuery(fresh_store.engine, KEY)
    since = "2000-01-01T00:00:00.000000+00:00"
    by_flow: dict[str, int] = {}
    for _, flow, copies in query.disclosures_by_day_and_flow(since):
        by_flow[flow] = by_flow.get(flow, 0) + copies
    assert by_flow == {"flow-a": 2, "flow-b": 1}
    assert query.refusals_by_rule(since) == {"default-deny": 3, "no-health-to-police": 1}
    assert sum(query.count_by_day(Action.UNDELIVERED, since).values()) == 1
    assert query.refusals_by_rule("2999-01-01") == {}


def test_an_export_reads_every_page(fresh_store):
    import csv
    import io

    from gateway.api.auditor import csv_rows

    exchange_id = _exchange(fresh_store, {"subjects": []})
    with fresh_store.transaction() as conn:
        append(conn, [_collection(exchange_id, {"n": i, "rules": ["=cmd"]}) for i in range(1_200)])
    query = AuditQuery(fresh_store.engine, KEY)
    rows = list(csv.DictReader(io.StringIO("".join(csv_rows(query.all(Filters()))))))
    assert [int(r["seq"]) for r in rows] == list(range(1_200, 0, -1))
    assert {r["rules"] for r in rows} == {"'=cmd"}  # never a formula in a spreadsheet
