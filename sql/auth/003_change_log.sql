-- The keys' version and change log (issue 15), as the configuration database keeps its
-- own (see targeting/004_change_log.sql): every write to what decides whether a key may
-- be used is logged by a trigger, whichever path made it (API, rotation, bootstrap).
--
-- `key_state` is one row; its epoch is random and made once, so a copy of the keys taken
-- from an earlier life of the database is never taken for current. The first change of
-- a transaction bumps `version` and keeps the row locked until the transaction ends, so
-- versions become visible in commit order and have no gaps.
CREATE TABLE key_state (
    singleton  BOOLEAN     PRIMARY KEY DEFAULT TRUE CONSTRAINT key_state_one_row CHECK (singleton),
    epoch      UUID        NOT NULL DEFAULT gen_random_uuid(),
    version    BIGINT      NOT NULL DEFAULT 0 CHECK (version >= 0),
    changed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

INSERT INTO key_state DEFAULT VALUES;

-- Which keys each version changed, one row per version and key; the unique index leads
-- with `version`, so it is also the index readers of the log use.
CREATE TABLE key_changes (
    version BIGINT      NOT NULL,
    key_id  BIGINT      NOT NULL,
    at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT key_changes_once UNIQUE (version, key_id)
);

CREATE FUNCTION key_transaction_version() RETURNS BIGINT
LANGUAGE plpgsql AS $$
DECLARE
    this_version BIGINT :=
        NULLIF(current_setting('togglemaster.key_version', true), '')::BIGINT;
BEGIN
    IF this_version IS NULL THEN
        UPDATE key_state SET version = version + 1, changed_at = clock_timestamp()
        RETURNING version INTO this_version;
        PERFORM set_config('togglemaster.key_version', this_version::TEXT, true);
    END IF;
    RETURN this_version;
END
$$;

-- Names, prefixes and the last use (merged often) decide nothing: not changes.
CREATE FUNCTION key_log_api_keys() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND (OLD.id, OLD.key_hash, OLD.is_active, OLD.scopes, OLD.environment, OLD.expires_at,
            OLD.revoked_at)
           IS NOT DISTINCT FROM
           (NEW.id, NEW.key_hash, NEW.is_active, NEW.scopes, NEW.environment, NEW.expires_at,
            NEW.revoked_at) THEN
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO key_changes (version, key_id) VALUES (key_transaction_version(), OLD.id)
        ON CONFLICT ON CONSTRAINT key_changes_once DO NOTHING;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO key_changes (version, key_id) VALUES (key_transaction_version(), NEW.id)
        ON CONFLICT ON CONSTRAINT key_changes_once DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER api_keys_change_log AFTER INSERT OR UPDATE OR DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION key_log_api_keys();
