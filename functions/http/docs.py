"""The interactive API page (`GET /docs`): Swagger UI on an OpenAPI description.

Swagger UI's files come from the installed `flask-swagger-ui` package (Swagger UI 5,
which reads OpenAPI 3.1) and are served below the page, at `/docs/<file>`: nothing is
fetched from the internet, and the online validator Swagger UI calls by default is
switched off. Every URL in the page is relative to where it is served, so the same page
works on a function's own port, on the gateway, and behind a prefix (`/auth/docs`).
"""

from __future__ import annotations

import functools
import html
import importlib.util
import json
from pathlib import Path

PATH = "/docs"
FILES: dict[str, str] = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "favicon-32x32.png": "image/png",
    "favicon-16x16.png": "image/png",
}
"""The files the page uses, with their media types: nothing else is served."""
SWAGGER_PACKAGE = "flask_swagger_ui"

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{title}</title>
  <link rel="stylesheet" href="{files}swagger-ui.css">
  <link rel="icon" type="image/png" href="{files}favicon-32x32.png" sizes="32x32">
  <link rel="icon" type="image/png" href="{files}favicon-16x16.png" sizes="16x16">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{files}swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({config});
  </script>
</body>
</html>
"""


class MissingSwaggerUI(RuntimeError):
    """The package with Swagger UI's files is not installed."""


def page(request_path: str, *, title: str, openapi: str = "openapi.json") -> str:
    """The page as served at `request_path` (`/docs`, `/docs/`, `/auth/docs`), reading
    the description `openapi` (relative to the folder the page's path is in)."""
    below = request_path.endswith("/")
    config = {
        "url": ("../" if below else "") + openapi,
        "dom_id": "#swagger-ui",
        "deepLinking": True,
        "validatorUrl": None,
        "tryItOutEnabled": False,
    }
    return _PAGE.format(
        title=html.escape(title),
        files="" if below else "docs/",
        config=json.dumps(config).replace("</", "<\\/"),
    )


def file(name: str) -> tuple[bytes, str] | None:
    """One of Swagger UI's files and its media type; None for any other name."""
    media_type = FILES.get(name)
    if media_type is None:
        return None
    return (_folder() / name).read_bytes(), media_type


@functools.cache
def _folder() -> Path:
    spec = importlib.util.find_spec(SWAGGER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise MissingSwaggerUI(
            f"{SWAGGER_PACKAGE} is not installed: pip install -e . (it holds Swagger UI)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "dist"
