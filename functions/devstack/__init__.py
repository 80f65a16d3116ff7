"""Local development stack: private servers, AWS stand-ins, the five functions and the
gateway that serves them all on one URL.

``python -m functions.devstack`` (what ``make dev`` runs) starts everything; the
test fixtures in ``tests/conftest.py`` reuse the same server classes.
"""
