"""What one request body may make the gateway hold, enforced while the body streams.

A body is refused at the first chunk that crosses a limit: over
``max_body_bytes`` (``PayloadTooLarge``), or, for a CSV batch, over
``adapters.MAX_BATCH_ROWS`` records (``BatchTooLarge``). Refused there, a
hostile upload costs the bytes received so far, never the objects that parsing
millions of tiny rows would make.

CSV records are counted as Python's ``csv`` module (default dialect, what the
adapters read CSV with) splits them: a line break inside a quoted field does
not end a record, a quote opens a quoted field only at the start of a field,
and blank lines are not records. The counter only jumps between the bytes that
matter with compiled patterns, so a chunk costs a few pattern matches per record,
never a Python step per byte. JSON batches are counted by their adapters, before
any row is validated; a JSON body is refused before it is parsed when it holds
more objects and arrays than any batch could (``PayloadTooLarge``).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable

from adapters import MAX_BATCH_ROWS
from adapters.base import batch_too_large
from gateway.errors import PayloadTooLarge

#: Media types whose bodies are CSV batches, counted while they stream.
CSV_MEDIA_TYPES = frozenset({"text/csv"})
#: Objects and arrays one JSON body may hold: a hundred for each record a batch may
#: have (a FHIR entry has a few dozen, a screening row one).
JSON_CONTAINER_LIMIT = 100 * MAX_BATCH_ROWS

# One CSV field, possibly empty: a quoted field closed in this chunk (its closing
# quote followed by a byte that is not a quote, so it is not half of an escaped
# quote split by the chunk's end) and whatever unquoted text follows it, or an
# unquoted field (quotes in it are literal). Possessive: no backtracking.
_FIELD = rb'(?:"(?:[^"]|"")*+"(?=[^"])[^,\r\n]*+|[^,"\r\n][^,\r\n]*+)?+'
_MORE_FIELDS = rb"(?:," + _FIELD + rb")*+"
_FROM_FIELD_START = re.compile(_FIELD + _MORE_FIELDS)
_FROM_INSIDE_FIELD = re.compile(rb"[^,\r\n]*+" + _MORE_FIELDS)
_INSIDE_QUOTES = re.compile(rb'(?:[^"]|"")*+')
_LINE_BREAKS = re.compile(rb"[\r\n]*+")
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*+"', re.DOTALL)
_QUOTE, _COMMA = ord('"'), ord(",")
_BOM = "\ufeff".encode()


class CsvRecordCounter:
    """Counts a CSV body's records, header included, as its chunks arrive."""

    # csv's own parser states, as far as they matter for where records end.
    _START_RECORD, _START_FIELD, _IN_FIELD, _IN_QUOTES, _QUOTE_IN_QUOTES = range(5)

    def __init__(self) -> None:
        self.records = 0
        self._state = self._START_RECORD
        #: The body's first bytes while they may still be a byte order mark; None after.
        self._head: bytes | None = b""

    def feed(self, chunk: bytes) -> int:
        """Count the records begun in ``chunk``; the total so far."""
        pos = 0
        if self._head is not None:  # the adapters read UTF-8 with or without a BOM
            chunk = self._head + chunk
            if len(chunk) < len(_BOM) and _BOM.startswith(chunk):
                self._head = chunk
                return self.records
            self._head = None
            pos = len(_BOM) if chunk.startswith(_BOM) else 0
        end = len(chunk)
        while pos < end:
            state = self._state
            if state == self._START_RECORD:
                pos = _match(_LINE_BREAKS, chunk, pos)
                if pos < end:
                    self.records += 1
                    self._state = self._START_FIELD
            elif state == self._IN_QUOTES:
                pos = _match(_INSIDE_QUOTES, chunk, pos)
                if pos < end:  # a quote not followed by another in this chunk
                    pos += 1
                    self._state = self._QUOTE_IN_QUOTES
            elif state == self._QUOTE_IN_QUOTES:
                if chunk[pos] == _QUOTE:  # an escaped quote split by the chunk's end
                    pos += 1
                    self._state = self._IN_QUOTES
                else:  # it closed the field; what follows is read as unquoted text
                    self._state = self._IN_FIELD
            else:
                pattern = _FROM_FIELD_START if state == self._START_FIELD else _FROM_INSIDE_FIELD
                start, pos = pos, _match(pattern, chunk, pos)
                if pos == end:
                    if pos > start:
                        last = chunk[pos - 1]
                        self._state = self._START_FIELD if last == _COMMA else self._IN_FIELD
                elif chunk[pos] == _QUOTE:  # a quoted field not closed in this chunk
                    pos += 1
                    self._state = self._IN_QUOTES
                else:  # a line break ends the record
                    self._state = self._START_RECORD
        return self.records


def _match(pattern: re.Pattern[bytes], chunk: bytes, pos: int) -> int:
    found = pattern.match(chunk, pos)
    assert found is not None  # every pattern here can match nothing
    return found.end()


async def read_body(
    chunks: AsyncIterable[bytes],
    media_type: str | None,
    max_body: int,
    max_rows: int = MAX_BATCH_ROWS,
) -> bytes:
    """The whole body, or the error of the first limit it crosses while it streams.

    A CSV body may hold a header and ``max_rows`` records."""
    base = (media_type or "").split(";")[0].strip().lower()
    counter = CsvRecordCounter() if base in CSV_MEDIA_TYPES else None
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > max_body:
            raise PayloadTooLarge(f"the body is over {max_body} bytes")
        if counter is not None and counter.feed(chunk) > max_rows + 1:
            raise batch_too_large(max_rows, f"more than {max_rows}")
        parts.append(chunk)
    body = b"".join(parts)
    if base == "application/json" or base.endswith("+json"):
        check_json_containers(body)
    return body


def check_json_containers(body: bytes, limit: int = JSON_CONTAINER_LIMIT) -> None:
    """Refuse a JSON body of more than ``limit`` objects and arrays before it is parsed.

    Parsed, each costs ~60-100 bytes: a body of ``[[],[],...]`` costs thirty times
    its size. Braces and brackets are counted outside strings, and only when there
    are more than ``limit`` of them at all (never, for a partner's record)."""
    if body.count(b"{") + body.count(b"[") <= limit:
        return
    bare = _JSON_STRING.sub(b"", body)
    if bare.count(b"{") + bare.count(b"[") > limit:
        raise PayloadTooLarge(f"the JSON body has more than {limit} objects and arrays")
