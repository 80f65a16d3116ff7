"""What every HTTP function shares, written once: routing, request and response bodies, the
bearer key, probes, start-up, and the OpenAPI description its routes declare. The only
package besides the function modules that knows Flask.
"""
