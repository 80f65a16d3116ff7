"""Local development stack: private servers, AWS stand-ins and the five functions.

``python -m functions.devstack`` (what ``make dev`` runs) starts everything; the
test fixtures in ``tests/conftest.py`` reuse the same server classes.
"""
