"""API keys as the other functions see them: key material, grants, the shared validation
cache, access by scope and environment.
"""
