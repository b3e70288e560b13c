"""What the gateway's commands share: the ``--data-dir`` option, settings, the store,
the runtime, and failing with a plain message instead of a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError

from gateway.errors import GatewayError
from gateway.settings import Settings, load_settings

if TYPE_CHECKING:
    from gateway.policy.model import Retention
    from gateway.runtime import Runtime
    from gateway.store import Store

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="The embedded default's data directory (as for serve)."),
]


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` on stderr; the caller raises what this returns."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def settings_for(data_dir: Path | None, **extra: object) -> Settings:
    overrides: dict[str, object] = dict(extra)
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    try:
        return load_settings(**overrides)
    except (ValidationError, ValueError) as exc:
        raise fail(f"invalid settings: {exc}") from None


def agreement_retention(settings: Settings) -> Retention | None:
    """The retention periods of the agreement in force (GATEWAY_POLICY_DIR)."""
    from gateway.policy import load_bundle

    try:
        return load_bundle(settings.policy_dir).retention
    except GatewayError as exc:
        raise fail(f"the policy in {settings.policy_dir} does not load: {exc}") from None


def open_store(data_dir: Path | None) -> Store:
    """The configured store; on the embedded default, only one that already exists."""
    from gateway.store import Store

    settings = settings_for(data_dir)
    if settings.database_url is None and not (settings.data_dir / "gateway.db").exists():
        raise fail(f"no store in {settings.data_dir.resolve()} (run `gateway serve` first)")
    _seal_entries(settings)
    return Store.from_url(settings.store_url)


def _seal_entries(settings: Settings) -> None:
    """Entries a command appends (an erasure, a redelivery) are sealed with the audit
    trail's key, as the gateway's are: unsealed, the next checkpoint would refuse them
    as forged (docs/audit.md)."""
    from gateway.audit.checkpoints import keys_from_settings
    from gateway.audit.signing import AuditKeyError
    from gateway.store.audit_log import use_sealer

    try:
        current = keys_from_settings(settings, create=False).current
    except (AuditKeyError, ValueError) as exc:
        raise fail(f"cannot read the audit signing keys: {exc}") from None
    use_sealer(current.seal if current is not None else None)


def start_runtime(settings: Settings, run_api: bool = True, run_relay: bool = True) -> Runtime:
    """Start a runtime, or exit with a plain message saying why it cannot start."""
    from gateway.runtime import Runtime

    runtime = Runtime(settings, run_api=run_api, run_relay=run_relay)
    try:
        return runtime.start()
    except (GatewayError, RuntimeError, ValueError) as exc:
        runtime.stop()
        raise fail(str(exc)) from None
