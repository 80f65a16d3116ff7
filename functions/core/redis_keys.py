"""Every Redis key and channel ToggleMaster uses, named once, so that two meanings never
share a name and a reader finds who writes what by following these names."""

from __future__ import annotations

KEY_USAGE = "tm:keys:last-used"
"""Sorted set: key id → when it was last used, merged into `api_keys.last_used_at`."""

SNAPSHOT_CHANGES_CHANNEL = "tm:snapshot:changes"
"""Pub/sub: the notice every configuration or key write publishes after it commits
(`snapshot.notices`: source, epoch, version, the changes and their documents); key
notices are signed (`keys.signing`)."""

SNAPSHOT_CONFIG = "tm:snapshot:config"
"""Hash: evaluation's copy of the whole configuration, for cold starts (`snapshot.copy`)."""
SNAPSHOT_KEYS = "tm:snapshot:keys"
"""Hash: evaluation's copy of the active API keys, for cold starts (`snapshot.copy`),
signed as a whole (`keys.signing`)."""

RATE_LIMIT_PREFIX = "tm:limits:"
"""+ `<limit>:<window>:<client>`: one client's events in one window, summed over every
process (`http.throttle`)."""
