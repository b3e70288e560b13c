"""The HTTP API (FastAPI)."""

from gateway.api.app import create_app

__all__ = ["create_app"]
