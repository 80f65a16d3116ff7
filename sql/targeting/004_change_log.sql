-- The configuration's version and change log (issue 15). Every write to what decides a
-- flag -- flags, flag_states, targeting_rules, segments, environments -- is logged by a
-- trigger, so no write path (API, import, promotion, the cascades of a flag's or an
-- environment's deletion, renames) can forget to: evaluation follows the log.
--
-- `config_state` is one row. Its epoch is random and made once, here: a database made
-- anew gets a new epoch, so a copy of the configuration taken from an earlier life of
-- the database (in Redis, in a process) is never taken for current. The first change of
-- a transaction bumps `version` and keeps the row locked until the transaction ends, so
-- writers are serialised from their first change on and versions become visible in
-- commit order: a reader that sees version N has seen every change up to N. Versions
-- have no gaps: a rolled back transaction rolls its bump back too.
CREATE TABLE config_state (
    singleton  BOOLEAN     PRIMARY KEY DEFAULT TRUE CONSTRAINT config_state_one_row CHECK (singleton),
    epoch      UUID        NOT NULL DEFAULT gen_random_uuid(),
    version    BIGINT      NOT NULL DEFAULT 0 CHECK (version >= 0),
    changed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

INSERT INTO config_state DEFAULT VALUES;

-- What each version changed. kind `flag`: key is the flag's name, environment the one
-- whose state or rule changed, NULL when the flag itself changed (every environment).
-- kind `segment` and `environment`: key is the segment's or environment's key. One row
-- per version and entity, however many rows the transaction wrote; the unique index
-- leads with `version`, so it is also the index readers of the log use.
CREATE TABLE config_changes (
    version     BIGINT      NOT NULL,
    kind        TEXT        NOT NULL CHECK (kind IN ('flag', 'segment', 'environment')),
    key         TEXT        NOT NULL,
    environment TEXT,
    at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT config_changes_once UNIQUE NULLS NOT DISTINCT (version, kind, key, environment)
);

-- This transaction's version: bumped by its first change, then kept in a
-- transaction-local setting (rolled back with a savepoint or the transaction).
CREATE FUNCTION config_transaction_version() RETURNS BIGINT
LANGUAGE plpgsql AS $$
DECLARE
    this_version BIGINT :=
        NULLIF(current_setting('togglemaster.config_version', true), '')::BIGINT;
BEGIN
    IF this_version IS NULL THEN
        UPDATE config_state SET version = version + 1, changed_at = clock_timestamp()
        RETURNING version INTO this_version;
        PERFORM set_config('togglemaster.config_version', this_version::TEXT, true);
    END IF;
    RETURN this_version;
END
$$;

-- Log one change under this transaction's version. A flag's change in one environment
-- is left out when this transaction changed the flag itself, which covers every
-- environment (an import creating 10 000 flags logs 10 000 changes, not 40 000).
-- PL/pgSQL throughout: its statements' plans are cached for the session, where a SQL
-- function's would be planned again for every row an import writes.
CREATE FUNCTION config_log_change(change_kind TEXT, change_key TEXT, change_environment TEXT)
RETURNS VOID
LANGUAGE plpgsql AS $$
DECLARE
    this_version BIGINT :=
        NULLIF(current_setting('togglemaster.config_version', true), '')::BIGINT;
BEGIN
    IF this_version IS NULL THEN
        this_version := config_transaction_version();
    ELSIF change_kind = 'flag' AND change_environment IS NOT NULL AND EXISTS (
        SELECT 1 FROM config_changes
        WHERE version = this_version AND kind = 'flag' AND key = change_key
          AND environment IS NULL) THEN
        RETURN;
    END IF;
    INSERT INTO config_changes (version, kind, key, environment)
    VALUES (this_version, change_kind, change_key, change_environment)
    ON CONFLICT ON CONSTRAINT config_changes_once DO NOTHING;
END
$$;

-- One trigger function per table. An update that changes nothing a decision depends on
-- (descriptions, tags, owners, timestamps, a state set to what it was) is not a change
-- of the configuration. An update that moves a row (a rename) logs where it was too.
-- A flag's state or rule is logged only while both the flag and the environment exist:
-- otherwise a deletion cascaded here, and the deleted row's own trigger logged it (an
-- environment deleted is one change, not one per flag it held).
CREATE FUNCTION config_log_flags() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF (OLD.name, OLD.type, OLD.variants, OLD.off_variant, OLD.default_variant,
            OLD.archived_at IS NULL)
           IS NOT DISTINCT FROM
           (NEW.name, NEW.type, NEW.variants, NEW.off_variant, NEW.default_variant,
            NEW.archived_at IS NULL) THEN
            RETURN NULL;
        END IF;
        IF OLD.name IS DISTINCT FROM NEW.name THEN
            PERFORM config_log_change('flag', OLD.name, NULL);
        END IF;
    END IF;
    IF TG_OP = 'DELETE' THEN
        PERFORM config_log_change('flag', OLD.name, NULL);
    ELSE
        PERFORM config_log_change('flag', NEW.name, NULL);
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION config_log_flag_states() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
DECLARE
    changed flag_states;
    flag_name TEXT;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF (OLD.flag_id, OLD.environment, OLD.is_enabled)
           IS NOT DISTINCT FROM (NEW.flag_id, NEW.environment, NEW.is_enabled) THEN
            RETURN NULL;
        END IF;
        IF (OLD.flag_id, OLD.environment) IS DISTINCT FROM (NEW.flag_id, NEW.environment) THEN
            SELECT f.name INTO flag_name
            FROM flags f JOIN environments e ON e.key = OLD.environment
            WHERE f.id = OLD.flag_id;
            IF FOUND THEN
                PERFORM config_log_change('flag', flag_name, OLD.environment);
            END IF;
        END IF;
    END IF;
    IF TG_OP = 'DELETE' THEN
        changed := OLD;
    ELSE
        changed := NEW;
    END IF;
    SELECT f.name INTO flag_name
    FROM flags f JOIN environments e ON e.key = changed.environment
    WHERE f.id = changed.flag_id;
    IF FOUND THEN
        PERFORM config_log_change('flag', flag_name, changed.environment);
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION config_log_targeting_rules() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
DECLARE
    changed targeting_rules;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF (OLD.flag_name, OLD.environment, OLD.rules, OLD.is_enabled)
           IS NOT DISTINCT FROM (NEW.flag_name, NEW.environment, NEW.rules, NEW.is_enabled) THEN
            RETURN NULL;
        END IF;
        IF (OLD.flag_name, OLD.environment)
           IS DISTINCT FROM (NEW.flag_name, NEW.environment) THEN
            PERFORM 1 FROM flags f JOIN environments e ON e.key = OLD.environment
            WHERE f.name = OLD.flag_name;
            IF FOUND THEN
                PERFORM config_log_change('flag', OLD.flag_name, OLD.environment);
            END IF;
        END IF;
    END IF;
    IF TG_OP = 'DELETE' THEN
        changed := OLD;
    ELSE
        changed := NEW;
    END IF;
    PERFORM 1 FROM flags f JOIN environments e ON e.key = changed.environment
    WHERE f.name = changed.flag_name;
    IF FOUND THEN
        PERFORM config_log_change('flag', changed.flag_name, changed.environment);
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION config_log_segments() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF (OLD.key, OLD.document) IS NOT DISTINCT FROM (NEW.key, NEW.document) THEN
            RETURN NULL;
        END IF;
        IF OLD.key IS DISTINCT FROM NEW.key THEN
            PERFORM config_log_change('segment', OLD.key, NULL);
        END IF;
    END IF;
    IF TG_OP = 'DELETE' THEN
        PERFORM config_log_change('segment', OLD.key, NULL);
    ELSE
        PERFORM config_log_change('segment', NEW.key, NULL);
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION config_log_environments() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF (OLD.key, OLD.name) IS NOT DISTINCT FROM (NEW.key, NEW.name) THEN
            RETURN NULL;
        END IF;
        IF OLD.key IS DISTINCT FROM NEW.key THEN
            PERFORM config_log_change('environment', OLD.key, NULL);
        END IF;
    END IF;
    IF TG_OP = 'DELETE' THEN
        PERFORM config_log_change('environment', OLD.key, NULL);
    ELSE
        PERFORM config_log_change('environment', NEW.key, NULL);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER flags_change_log AFTER INSERT OR UPDATE OR DELETE ON flags
    FOR EACH ROW EXECUTE FUNCTION config_log_flags();
CREATE TRIGGER flag_states_change_log AFTER INSERT OR UPDATE OR DELETE ON flag_states
    FOR EACH ROW EXECUTE FUNCTION config_log_flag_states();
CREATE TRIGGER targeting_rules_change_log AFTER INSERT OR UPDATE OR DELETE ON targeting_rules
    FOR EACH ROW EXECUTE FUNCTION config_log_targeting_rules();
CREATE TRIGGER segments_change_log AFTER INSERT OR UPDATE OR DELETE ON segments
    FOR EACH ROW EXECUTE FUNCTION config_log_segments();
CREATE TRIGGER environments_change_log AFTER INSERT OR UPDATE OR DELETE ON environments
    FOR EACH ROW EXECUTE FUNCTION config_log_environments();
