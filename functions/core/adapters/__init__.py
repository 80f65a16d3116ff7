"""Clients of what lies outside: PostgreSQL, Redis, AWS, the other functions over HTTP, the
migrations runner, readiness checks.
"""
