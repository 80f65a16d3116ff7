"""Request, response and error bodies, the configuration file, and the plain records that
cross layers. Imports nothing of ours but names and errors.
"""
