"""What things may be called, said once for every layer that checks them: settings,
request bodies, configuration files and keys (the migrations' CHECK constraints say the
environment rule again, in SQL)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import StringConstraints

ENVIRONMENT_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
ENVIRONMENT_RULE = "1 to 64 of a-z, 0-9, '_' and '-', starting with a letter or digit"
_ENVIRONMENT = re.compile(ENVIRONMENT_PATTERN)

EnvironmentKey = Annotated[str, StringConstraints(pattern=ENVIRONMENT_PATTERN)]
"""An environment's key: what URLs, keys and documents name it by."""
EnvironmentDisplayName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
]
"""An environment's name as people read it ("Staging")."""
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$"
NAME_RULE = "1 to 100 of A-Z, a-z, 0-9, '_', '.' and '-', starting with a letter or digit"
STORED_NAME_PATTERN = r"^[^/\x00-\x1f\x7f]{1,100}$"
FlagName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
"""What a new flag may be called."""
StoredFlagName = Annotated[str, StringConstraints(pattern=STORED_NAME_PATTERN)]
"""What a flag may already be called: databases migrated from the old schema hold
names like "New checkout v2", which must stay addressable, exportable and importable."""
MAX_FLAG_NAME = 100
"""Evaluation decides any name the old schema could store, and nothing longer."""
SegmentKey = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
MAX_USER_ID = 256
TAG_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:/\-]{0,49}$"

PATTERN_RULES = {
    ENVIRONMENT_PATTERN: ENVIRONMENT_RULE,
    NAME_PATTERN: NAME_RULE,
    STORED_NAME_PATTERN: "1 to 100 characters, without '/' or control characters",
    TAG_PATTERN: "1 to 50 of A-Z, a-z, 0-9, '_', '.', ':', '/' and '-', starting with a"
    " letter or digit",
}
"""Each name pattern as a person reads it: what a refusal says instead of the regex."""

FUNCTIONS = ("auth", "flags", "targeting", "evaluation", "analytics")
"""Every HTTP function, by its module and target name, in start order: evaluation and
analytics need the first three."""


def is_environment_name(name: str) -> bool:
    return _ENVIRONMENT.fullmatch(name) is not None
