-- Targeting rules belong to one environment; existing rules become the default
-- environment's (see flags/002_environments.sql).
ALTER TABLE targeting_rules ADD COLUMN environment VARCHAR(64);

UPDATE targeting_rules
SET environment = COALESCE(NULLIF(current_setting('togglemaster.default_environment', true), ''),
                           'production');

ALTER TABLE targeting_rules
    ALTER COLUMN environment SET NOT NULL,
    ADD CONSTRAINT targeting_rules_environment_fkey FOREIGN KEY (environment)
        REFERENCES environments (key) ON DELETE CASCADE ON UPDATE CASCADE,
    DROP CONSTRAINT targeting_rules_flag_name_key,
    ADD CONSTRAINT targeting_rules_flag_environment_key UNIQUE (flag_name, environment);
