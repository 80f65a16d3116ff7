-- Grammar versions (issue 20): the grammar a rule document or segment was written in,
-- so that a default that changes never changes what a stored document decides. Every
-- row that exists now, and every row a process that predates this column inserts
-- (during a rolling upgrade), is grammar 1: the meaning it always had. Processes that
-- know grammars write the current one (2) with every document they write.
ALTER TABLE targeting_rules
    ADD COLUMN grammar SMALLINT NOT NULL DEFAULT 1
        CONSTRAINT targeting_rules_grammar_known CHECK (grammar IN (1, 2));

ALTER TABLE segments
    ADD COLUMN grammar SMALLINT NOT NULL DEFAULT 1
        CONSTRAINT segments_grammar_known CHECK (grammar IN (1, 2));

-- A change of grammar alone changes what the document decides: log it as a change, as
-- a change of the document itself is (the rest as in 004_change_log.sql).
CREATE OR REPLACE FUNCTION config_log_targeting_rules() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
DECLARE
    changed targeting_rules;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF (OLD.flag_name, OLD.environment, OLD.rules, OLD.is_enabled, OLD.grammar)
           IS NOT DISTINCT FROM
           (NEW.flag_name, NEW.environment, NEW.rules, NEW.is_enabled, NEW.grammar) THEN
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

CREATE OR REPLACE FUNCTION config_log_segments() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF (OLD.key, OLD.document, OLD.grammar)
           IS NOT DISTINCT FROM (NEW.key, NEW.document, NEW.grammar) THEN
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
