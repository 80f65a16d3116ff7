"""Commands run beside the functions (`python -m functions.commands.<name>`): migrations,
bootstrap, configuration as code, published schemas and OpenAPI descriptions. Never
imported by a function.
"""
