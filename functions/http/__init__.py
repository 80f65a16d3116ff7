"""What every HTTP function shares, written once: routing, request and response bodies, the
bearer key, probes, start-up. The only package besides the function modules that knows
Flask.
"""
