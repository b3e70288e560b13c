"""The ``gateway`` command, one module per command or group of commands.

``serve`` and ``relay`` run the gateway, ``messages`` reads what a recipient
received, ``token`` prints a sample client's access token; ``audit``, ``db``,
``dlq`` and ``policy`` are groups. Errors are a plain message on stderr and a
non-zero exit, never a traceback.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Annotated

import typer

from gateway.cli.audit import audit_app
from gateway.cli.db import db_app
from gateway.cli.dlq import dlq_app
from gateway.cli.evaluation import evaluation_app
from gateway.cli.linking import linking_app
from gateway.cli.messages import messages
from gateway.cli.policy import policy_app
from gateway.cli.relay import relay
from gateway.cli.routes import routes_app
from gateway.cli.serve import serve
from gateway.cli.token import token, token_keys_app

DISTRIBUTION = "isg-gateway"

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="The information-sharing gateway: serve, relay, read messages; "
    "the audit trail, the store, dead letters and the policy tools.\n\n"
    "Errors are a plain message on stderr and a non-zero exit, never a traceback.",
)


def print_version(value: bool) -> None:
    if value:
        typer.echo(f"{DISTRIBUTION} {version(DISTRIBUTION)}")
        raise typer.Exit()


@app.callback()
def main(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    pass


app.command()(serve)
app.command()(relay)
app.command()(messages)
app.command()(token)
app.add_typer(token_keys_app, name="token-keys")
app.add_typer(audit_app, name="audit")
app.add_typer(db_app, name="db")
app.add_typer(dlq_app, name="dlq")
app.add_typer(evaluation_app, name="evaluation")
app.add_typer(linking_app, name="linking")
app.add_typer(policy_app, name="policy")
app.add_typer(routes_app, name="routes")

__all__ = ["app"]
