"""What the functions hold in memory and how changes reach it: evaluation's snapshot,
the keys flags and targeting hold, change notices and the readers of PostgreSQL.
"""
