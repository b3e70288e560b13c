"""PostgreSQL over TLS: the GATEWAY_DATABASE_SSL_* settings reach libpq through the
store's URL, and combinations that cannot work are refused by name.

The local PostgreSQL has no certificate, so ``require`` must fail there with
libpq's own "server does not support SSL": the proof that the mode reached it.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from gateway.settings import Settings
from gateway.store import Store

URL = "postgresql+psycopg://gateway:pw@db.example:5432/isg"


def test_the_tls_settings_become_libpq_parameters(tmp_path):
    settings = Settings(
        database_url=URL,
        database_ssl_mode="verify-full",
        database_ssl_root_cert_file=tmp_path / "ca.crt",
        database_ssl_cert_file=tmp_path / "tls.crt",
        database_ssl_key_file=tmp_path / "tls.key",
    )
    url = sa.make_url(settings.store_url)
    assert url.password == "pw"
    assert dict(url.query) == {
        "sslmode": "verify-full",
        "sslrootcert": str(tmp_path / "ca.crt"),
        "sslcert": str(tmp_path / "tls.crt"),
        "sslkey": str(tmp_path / "tls.key"),
    }
    assert Settings(database_url=URL).store_url == URL  # nothing added when unset


def test_the_mode_reaches_libpq(postgres):
    # Over TCP: libpq never uses TLS on a Unix socket, whatever the mode.
    url = sa.make_url(postgres.new()).set(host="127.0.0.1", port=5432)
    url = url.render_as_string(hide_password=False)
    plain = Store.from_url(Settings(database_url=url, database_ssl_mode="disable").store_url)
    assert plain.ping()
    plain.engine.dispose()
    demanding = Store.from_url(Settings(database_url=url, database_ssl_mode="require").store_url)
    try:
        with (
            pytest.raises(sa.exc.OperationalError, match="does not support SSL"),
            demanding.engine.connect(),
        ):
            pass
    finally:
        demanding.engine.dispose()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"database_ssl_mode": "require"}, "GATEWAY_DATABASE_SSL_* apply to PostgreSQL"),
        (
            {"database_url": "sqlite:///x.db", "database_ssl_mode": "require"},
            "apply to PostgreSQL",
        ),
        (
            {"database_url": URL, "database_ssl_mode": "verify-full"},
            "needs GATEWAY_DATABASE_SSL_ROOT_CERT_FILE",
        ),
        (
            {"database_url": URL, "database_ssl_cert_file": "/etc/tls.crt"},
            "a client certificate needs its key",
        ),
        (
            {"database_url": URL + "?sslmode=disable", "database_ssl_mode": "require"},
            "GATEWAY_DATABASE_URL says sslmode=disable",
        ),
        ({"database_url": URL, "database_ssl_mode": "on"}, "database_ssl_mode"),
    ],
)
def test_a_combination_that_cannot_work_is_refused_by_name(values, message):
    with pytest.raises(ValidationError) as refused:
        Settings(**values)
    assert message in str(refused.value)
