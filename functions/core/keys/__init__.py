"""API keys: key material, access by scope and environment, the signature on what the
functions tell each other about keys through Redis, and last-use notes.
"""
