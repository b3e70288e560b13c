"""``python -m gateway.cli``, as the ``gateway`` script."""

from gateway.cli import app

app()
