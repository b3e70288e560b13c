"""Limits enforced while a body streams: a CSV batch is counted record by record as it
arrives and refused at the limit, before the rest is read or any row is parsed."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import random
from collections.abc import AsyncIterator

import pytest

from adapters import MAX_BATCH_ROWS, BatchTooLarge
from gateway.api.limits import JSON_CONTAINER_LIMIT, CsvRecordCounter, read_body
from gateway.errors import PayloadTooLarge

HEADER = b"occurrence_number,ho_code\n"


def csv_records(data: bytes) -> int:
    """Records as the adapters' reader (the csv module) splits them, header included."""
    text = data.decode("utf-8-sig")
    return sum(1 for row in csv.reader(io.StringIO(text, newline="")) if row != [])


def counted(data: bytes, rng: random.Random, largest_chunk: int) -> int:
    counter = CsvRecordCounter()
    pos = 0
    while pos < len(data):
        size = rng.randint(1, largest_chunk)
        counter.feed(data[pos : pos + size])
        pos += size
    return counter.records


PIECES = [b'"', b",", b"\n", b"\r", b"\r\n", b'""', b"a", b"b ", "é".encode(), b"\xef\xbb\xbf"]


def test_records_are_counted_as_the_csv_module_splits_them_wherever_chunks_break():
    """Quoted line breaks, escaped quotes, quotes inside unquoted fields, blank lines,
    CR, LF and CRLF, a byte order mark, each split at every kind of chunk boundary."""
    rng = random.Random(15)
    checked = 0
    for _ in range(20_000):
        data = b"".join(rng.choice(PIECES) for _ in range(rng.randint(0, 30)))
        try:
            expected = csv_records(data)
        except (csv.Error, UnicodeDecodeError):
            continue
        assert counted(data, rng, rng.choice([1, 3, 7, 64])) == expected, data
        checked += 1
    assert checked > 10_000


async def _chunks(body: bytes, size: int, pulled: list[int]) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        pulled.append(start)
        yield body[start : start + size]


def _read(body: bytes, media_type: str = "text/csv", max_body: int = 10**8) -> tuple[bytes, int]:
    pulled: list[int] = []
    result = asyncio.run(read_body(_chunks(body, 4096, pulled), media_type, max_body))
    return result, len(pulled)


def test_a_full_batch_streams_through_whole():
    rows = b"".join(b"CC-%06d,8/1,\n" % i for i in range(MAX_BATCH_ROWS))
    body = HEADER + b"\n\n" + rows
    assert _read(body)[0] == body


def test_line_breaks_in_quoted_fields_and_blank_lines_are_not_records():
    rows = b"".join(b'CC-%06d,"8/1\r\nwith\nbreaks"\r\n\r\n' % i for i in range(MAX_BATCH_ROWS))
    body = HEADER + rows
    assert _read(body)[0] == body


def test_a_batch_of_tiny_rows_is_refused_at_the_limit_before_the_rest_is_read():
    body = HEADER + b"a,b\n" * 1_000_000  # 4 MB
    with pytest.raises(BatchTooLarge) as caught:
        _read(body)
    assert caught.value.status == 413
    assert caught.value.problems[0].field == "(batch)"
    pulled: list[int] = []

    async def read() -> None:
        await read_body(_chunks(body, 4096, pulled), "text/csv; charset=utf-8", 10**8)

    with pytest.raises(BatchTooLarge):
        asyncio.run(read())
    # The header and 1001 rows of 4 bytes fit in the first 4 KiB chunk: it is the only
    # one read of the thousand.
    assert len(pulled) == 1


def test_one_row_over_the_limit_is_refused():
    rows = b"".join(b"CC-%06d,8/1\n" % i for i in range(MAX_BATCH_ROWS + 1))
    with pytest.raises(BatchTooLarge):
        _read(HEADER + rows)


def test_json_bodies_are_not_counted_here_and_the_byte_limit_holds_for_all():
    body = b"\n" * 10_000
    assert _read(body, "application/json")[0] == body
    with pytest.raises(PayloadTooLarge):
        _read(b"x" * 10_001, "application/json", max_body=10_000)


def test_the_gateway_refuses_a_hostile_csv_while_it_streams_and_keeps_nothing(gateway):
    """5 MB of tiny rows (1.3 million records) on a real loopback server: refused as
    batch-too-large, not payload-too-large (it is under the byte limit), nothing kept."""
    limit = gateway.runtime.settings.max_body_bytes
    body = HEADER + b"a,b\n" * ((limit - len(HEADER)) // 4)
    assert len(body) <= limit
    before = gateway.count_rows()
    with gateway.client() as client:
        response = client.post(
            "/v1/inbound/police", content=body, headers={"Content-Type": "text/csv"}
        )
    assert response.status_code == 413, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"].endswith("/batch-too-large")
    assert gateway.count_rows() == before


def test_a_json_body_of_more_objects_and_arrays_than_any_batch_is_refused_unparsed():
    rows = b",".join([b"[]"] * (JSON_CONTAINER_LIMIT + 1))
    with pytest.raises(PayloadTooLarge, match="objects and arrays"):
        _read(b'{"rows":[' + rows + b"]}", "application/fhir+json")


def test_braces_inside_json_strings_are_not_counted():
    text = json.dumps("{[" * JSON_CONTAINER_LIMIT + '\\"[').encode()
    body = b'{"narrative":' + text + b',"rows":[{},[]]}'
    assert _read(body, "application/json")[0] == body
