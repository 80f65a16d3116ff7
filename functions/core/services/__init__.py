"""One module per use-case area: what a function does, with no HTTP in sight. Services call
stores, adapters and the snapshot; nothing below calls them.
"""
