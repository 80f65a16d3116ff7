"""Every Redis key and channel ToggleMaster uses, named once, so that two meanings never
share a name and a reader finds who writes what by following these names."""

from __future__ import annotations

KEY_GRANT_PREFIX = "tm:keys:grant:"
"""+ a key's hash: the grant auth published after validating it (see `keys.cache`)."""
KEYS_VERSION = "tm:keys:version"
"""Bumped by every key change; a grant is stored only if it has not moved meanwhile."""
KEY_CHANGES_CHANNEL = "tm:keys:changes"
"""Pub/sub: the ids of keys revoked, rotated or retired."""
KEY_USAGE = "tm:keys:last-used"
"""Sorted set: key id → when it was last used, merged into `api_keys.last_used_at`."""

CONFIG_VERSION = "tm:config:version"
"""The configuration version every flag, rule, segment or environment write bumps."""
CONFIG_CHANGES_CHANNEL = "tm:config:changes"
"""Pub/sub: `{"version", "kind", "name"}` of each configuration change."""
FLAG_ENTRY_PREFIX = "tm:eval:flag:"
"""+ `<environment>:<flag>`: evaluation's shared copy of one flag's configuration."""
