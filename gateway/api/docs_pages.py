"""Swagger UI (``/docs``) and ReDoc (``/redoc``), their scripts served by the gateway.

Partners' networks are closed, so the pages load nothing from a CDN: the
assets come from the ``fastapi-offline`` package (Swagger UI's bundle and
stylesheet, ReDoc's standalone bundle), mounted under :data:`ASSETS`. ReDoc
goes without Google Fonts and its bundle is served with its CDN-hosted logo
replaced by our favicon; Swagger UI goes without its online validator badge.
A browser test (tests/web/) counts every request the pages make elsewhere.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs/assets"
#: The asset files the pages load, in fastapi-offline's ``static`` folder.
SWAGGER_JS, SWAGGER_CSS = "swagger-ui-bundle.js", "swagger-ui.css"
REDOC_JS, FAVICON = "redoc.standalone.js", "favicon.png"
#: ReDoc's bundle, served from its own path with the logo it would fetch from a CDN
#: ("API docs by Redocly") replaced by the local favicon.
REDOC_JS_PATH = "/docs/redoc.standalone.js"
REDOC_CDN_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def install(app: FastAPI, openapi_url: str, title: str) -> None:
    """``/docs``, ``/redoc`` and their assets, reading the document at ``openapi_url``."""
    static = files("fastapi_offline") / "static"
    app.mount(ASSETS, StaticFiles(directory=str(static)), name="docs-assets")
    redoc_bundle = (static / REDOC_JS).read_text(encoding="utf-8")

    @app.get(REDOC_JS_PATH, include_in_schema=False)
    def redoc_js(request: Request) -> Response:
        local_logo = prefixed(request, f"{ASSETS}/{FAVICON}")
        return Response(
            redoc_bundle.replace(REDOC_CDN_LOGO, local_logo),
            media_type="application/javascript",
            headers={"Cache-Control": "max-age=3600"},
        )

    def prefixed(request: Request, path: str) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/") + path

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=prefixed(request, openapi_url),
            title=f"{title}: Swagger UI",
            swagger_js_url=prefixed(request, f"{ASSETS}/{SWAGGER_JS}"),
            swagger_css_url=prefixed(request, f"{ASSETS}/{SWAGGER_CSS}"),
            swagger_favicon_url=prefixed(request, f"{ASSETS}/{FAVICON}"),
            # The default sends the document to validator.swagger.io for a badge.
            swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": False},
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        return get_redoc_html(
            openapi_url=prefixed(request, openapi_url),
            title=f"{title}: ReDoc",
            redoc_js_url=prefixed(request, REDOC_JS_PATH),
            redoc_favicon_url=prefixed(request, f"{ASSETS}/{FAVICON}"),
            with_google_fonts=False,
        )
