"""schemathesis against the document a live gateway serves, with a real access token:
no answer is a 5xx, and every answer (status, content type, headers, body) is as
the document says. Request bodies are generated from each format's schemas, valid
and not; every sample in examples/ is sent too, so accepted answers are checked as
well as refusals. Bounded to about two minutes; ``scripts/test --quick`` leaves it out."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from oidc_provider_mock import run_server_in_thread
from schemathesis import GenerationMode, checks

from tests.api.conftest import sqlite_gateway
from tests.conftest import EXAMPLES, RunningGateway
from tests.partner_clients import FORMATS

pytestmark = [
    pytest.mark.fuzz,
    # schemathesis's strategies draw from `random`; hypothesis warns about it, not we.
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]

PARTNER = "cheshire-police"
#: Generated examples per operation, on top of the samples.
GENERATED = 300
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.ignored_auth,
]
SETTINGS = settings(
    max_examples=GENERATED,
    deadline=None,
    database=None,
    # A failure is reported as found: shrinking it could take longer than the run.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
SAMPLE_MEDIA_TYPES = {
    "fhir": {".json": "application/fhir+json"},
    None: {".json": "application/json", ".csv": "text/csv"},
}


@pytest.fixture(scope="module")
def fuzzed(broker, tmp_path_factory) -> Iterator[RunningGateway]:
    """A gateway of its own (the fuzzing leaves it full of odd exchanges), with people's
    sign-in against a real OpenID Connect provider, so ``/auth`` answers more than 404."""
    with (
        run_server_in_thread(require_client_registration=False) as provider,
        sqlite_gateway(
            broker.bootstrap,
            tmp_path_factory.mktemp("gw-fuzz"),
            oidc_issuer=f"http://localhost:{provider.server_port}",
            oidc_client_id="isg-gateway",
            session_secret="fuzz-session-secret-" + "x" * 32,
        ) as running,
    ):
        yield running


def _cases(operation) -> st.SearchStrategy:
    """Valid requests and, where the operation has something to get wrong, invalid ones."""
    valid = operation.as_strategy(GenerationMode.POSITIVE)
    try:
        return st.one_of(valid, operation.as_strategy(GenerationMode.NEGATIVE))
    except Exception:  # nothing to negate (no parameters, no body)
        return valid


def _samples(operation, exchange_id: str) -> Iterator:
    """Requests the gateway accepts: each format's samples, an exchange it has."""
    if operation.path == "/v1/exchanges/{exchange_id}":
        yield operation.Case(path_parameters={"exchange_id": exchange_id})
    fmt = operation.path.removeprefix("/v1/inbound/")
    if operation.method.upper() != "POST" or "/" in fmt or "{" in fmt:
        return
    media_types = {**SAMPLE_MEDIA_TYPES[None], **SAMPLE_MEDIA_TYPES.get(fmt, {})}
    for path in sorted((EXAMPLES / fmt).glob("*")):
        if path.suffix == ".json":
            body = json.loads(path.read_text(encoding="utf-8"))
        elif path.suffix == ".csv":
            body = path.read_text(encoding="utf-8")
        else:
            continue
        yield operation.Case(body=body, media_type=media_types[path.suffix])


def _fuzz(operation, samples: list, call) -> Counter[int]:
    """Run ``call`` on the operation's samples and generated cases; the statuses seen."""
    statuses: Counter[int] = Counter()

    @SETTINGS
    @given(case=_cases(operation))
    def answers_as_documented(case) -> None:
        statuses[call(case).status_code] += 1

    for case in samples:
        answers_as_documented = example(case=case)(answers_as_documented)
    answers_as_documented()
    return statuses


def test_the_gateway_answers_as_its_document_says(fuzzed):
    headers = fuzzed.auth(PARTNER)
    sample = (EXAMPLES / "police" / "stalking-crime.json").read_bytes()
    submitted = httpx.post(
        f"{fuzzed.base_url}/v1/inbound/police",
        content=sample,
        headers={**headers, "Content-Type": "application/json"},
    )
    assert submitted.status_code == 202, submitted.text
    exchange_id = submitted.json()["exchange_id"]

    def call(case):
        return case.call_and_validate(
            base_url=fuzzed.base_url, headers=headers, checks=CHECKS, timeout=30
        )

    schema = schemathesis.openapi.from_url(f"{fuzzed.base_url}/openapi.json")
    failures, seen = [], {}
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        try:
            seen[operation.label] = _fuzz(operation, list(_samples(operation, exchange_id)), call)
        except Exception as failed:  # every operation is tried; all failures reported
            failures.append(f"{operation.label}:\n{failed}")
    summary = "\n".join(f"{label}: {dict(statuses)}" for label, statuses in seen.items())
    print(f"{time.monotonic() - started:.0f}s\n{summary}")
    assert not failures, "\n\n".join(failures)
    accepted = {label for label, statuses in seen.items() if statuses[202]}
    assert {f"POST /v1/inbound/{fmt}" for fmt in FORMATS} <= accepted
    assert seen["GET /v1/exchanges/{exchange_id}"][200]
