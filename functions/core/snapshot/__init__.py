"""What evaluation holds in memory and how changes reach it: change notices and the
configuration reader.
"""
