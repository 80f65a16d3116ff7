"""Evaluation events: the schema producers and analytics agree on, and the packed publisher."""
