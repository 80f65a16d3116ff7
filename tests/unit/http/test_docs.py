"""`GET /` and `GET /docs` on each function: what is there, and an API page whose files
are all served by the function itself (nothing fetched from the internet)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from functions.commands.openapi import router_of
from functions.http import docs
from functions.http.openapi import openapi_path
from tests.unit.http.unreachable import UNREACHABLE_DEPENDENCIES

ClientFactory = Callable[[str, dict[str, str]], FlaskClient]

ENVIRONMENTS = {
    name: settings for name, settings in UNREACHABLE_DEPENDENCIES.items() if name != "evaluation"
}
"""The WSGI functions, their dependencies unreachable: `/` and `/docs` need none
(evaluation, over ASGI, is checked through the running stack in tests/e2e)."""

_REFERENCE = re.compile(r"""(?:src|href)="([^"]*)\"""")


def local_references(page: str) -> list[str]:
    """Every `src` and `href` of the page, and the description URL it loads."""
    references = _REFERENCE.findall(page)
    references += re.findall(r'"url": "([^"]*)"', page)
    return references


@pytest.mark.parametrize("function", sorted(ENVIRONMENTS))
def test_index__without_key__function_description_operations_and_links(
    function_client: ClientFactory, function: str
) -> None:
    # Given the function, its dependencies unreachable
    client = function_client(function, ENVIRONMENTS[function])
    # When
    response = client.get("/")
    # Then it says which function it is, what it is for, and every operation it serves
    assert response.status_code == 200
    body = response.get_json()
    assert body["function"] == function
    assert body["description"].startswith(f"The {function} function")
    assert "\n" not in body["description"]
    assert (body["openapi"], body["docs"]) == ("/openapi.json", "/docs")
    served = {(op["method"], op["path"]) for op in body["operations"]}
    routed = {(op.method, openapi_path(op.path)[0]) for op in router_of(function).operations}
    assert served == routed
    assert all(op["summary"] for op in body["operations"])


@pytest.mark.parametrize(
    ("path", "files", "description"),
    [
        ("/docs", "docs/", "openapi.json"),
        ("/docs/", "", "../openapi.json"),
        ("/auth/docs", "docs/", "openapi.json"),
    ],
)
def test_page__served_at_path__every_reference_relative_to_it(
    path: str, files: str, description: str
) -> None:
    # Given / When
    page = docs.page(path, title="ToggleMaster <test>")
    # Then the files and the description are found next to the page, wherever it is
    references = local_references(page)
    assert sorted(references) == sorted([*(files + name for name in docs.FILES), description])
    assert "<title>ToggleMaster &lt;test&gt;</title>" in page
    assert '"validatorUrl": null' in page


def test_docs__flags_function__html_whose_every_file_is_served_locally(
    function_client: ClientFactory,
) -> None:
    # Given
    client = function_client("flags", ENVIRONMENTS["flags"])
    # When
    page = client.get("/docs")
    # Then the page references nothing outside the function, and each file is there
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    references = local_references(html)
    assert references
    assert not [ref for ref in references if "//" in ref or ref.startswith("/")]
    assert "http://" not in html and "https://" not in html
    for reference in references:
        fetched = client.get("/" + reference)
        assert fetched.status_code == 200, reference
        assert fetched.data
    css = client.get("/docs/swagger-ui.css")
    assert css.mimetype == "text/css"
    assert css.headers["Cache-Control"] == "max-age=3600"


@pytest.mark.parametrize("name", ["index.html", "swagger-ui.js", "LICENSE", "favicon.ico"])
def test_docs_file__not_one_of_the_page_files__404_json_naming_them(
    function_client: ClientFactory, name: str
) -> None:
    # Given
    client = function_client("auth", ENVIRONMENTS["auth"])
    # When
    response = client.get(f"/docs/{name}")
    # Then
    assert response.status_code == 404
    body = json.loads(response.data)
    assert body["code"] == "not_found"
    assert "swagger-ui-bundle.js" in body["error"]
