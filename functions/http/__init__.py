"""What every HTTP function shares, written once: routing, request and response bodies, the
bearer key, probes, start-up, and the OpenAPI description its routes declare.

Routes see `messages.Request` and answer `messages.Response`, whatever the protocol;
`wsgi` (Flask) and `asgi` (Starlette) are the only modules here that know a framework,
each a thin adapter with the body-limit middleware of its protocol.
"""
