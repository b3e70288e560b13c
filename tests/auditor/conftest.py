"""The auditor's gateway on each store, with sample exchanges already submitted."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.auditor.helpers import add_auditors
from tests.conftest import STORES
from tests.inbox.helpers import InboxGateway, inbox_gateway


@pytest.fixture(scope="module", params=STORES)
def audited(request, broker, postgres, tmp_path_factory) -> Iterator[InboxGateway]:
    kind = request.param
    data_dir = tmp_path_factory.mktemp(f"auditor-{kind}")
    url = f"sqlite:///{data_dir / 'gateway.db'}" if kind == "sqlite" else postgres.new()
    with inbox_gateway(kind, url, broker.bootstrap, data_dir) as running:
        add_auditors(running.issuer)
        yield running
