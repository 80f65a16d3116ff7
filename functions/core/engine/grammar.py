"""Grammar versions: what a stored document means is fixed when it is written.

A rule document or segment is stored with the grammar it was written in, and the
engine compiles it in that grammar, so a default that changes never changes what an
existing document decides:

- ``Grammar.V1``: every document written before grammar versions existed (and any
  written by a process that does not know them). Numeric strings are strings unless a
  leaf says ``"numeric_strings": true``; a rule's split whose single ``bucket_by``
  attribute (a string) is absent answers ERROR, TARGETING_KEY_MISSING.
- ``Grammar.V2``: every document written from grammar versions on. ``numeric_strings``
  is on wherever it applies (``gt gte lt lte``, ``eq``/``neq`` with a number value)
  unless the leaf says ``"numeric_strings": false``; a rule whose rollout or split finds
  none of its ``bucket_by`` attributes, in either form, is skipped and the next rule
  decides (the fallthrough, with nothing after it, still answers ERROR).
"""

from __future__ import annotations

from enum import IntEnum


class Grammar(IntEnum):
    """The grammar a stored document was written in (the `grammar` column)."""

    V1 = 1
    V2 = 2


CURRENT_GRAMMAR = Grammar.V2
"""What every write stores from now on."""
