"""What an environment may be called, said once for every layer that checks it (the
same rule is the CHECK constraint of the migrations)."""

from __future__ import annotations

import re

ENVIRONMENT_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
ENVIRONMENT_RULE = "1 to 64 of a-z, 0-9, '_' and '-', starting with a letter or digit"
_ENVIRONMENT = re.compile(ENVIRONMENT_PATTERN)


def is_environment_name(name: str) -> bool:
    return _ENVIRONMENT.fullmatch(name) is not None
