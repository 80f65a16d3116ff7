"""The reference function of DESIGN.md §5: three fields of JSON, nothing else.

Served with the same server command and settings as the functions, it is the
yardstick `make bench` measures evaluation against, in the same run.
"""

from __future__ import annotations

import flask
import functions_framework


@functions_framework.http
def hello(request: flask.Request) -> flask.Response:
    return flask.jsonify(flag_name="hello", user_id="bench", result=True)
