"""Explicit conversions between representations: rows into records and bodies, documents
into engine objects. Keyword-only functions, no I/O.
"""
