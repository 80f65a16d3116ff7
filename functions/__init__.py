"""ToggleMaster: feature flags as small serverless functions.

Each function module (auth, flags, targeting, evaluation, analytics) is a
functions-framework target; `functions.core` holds what they share and never
imports Flask or functions-framework.
"""
