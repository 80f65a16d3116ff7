-- Environments: a flag's definition is shared, its state belongs to one environment.
-- What existed before becomes the default environment's state, so every evaluation
-- answers as before. The default comes from the `togglemaster.default_environment`
-- setting the migration runner sets from DEFAULT_ENVIRONMENT (else `production`).
CREATE TABLE environments (
    key         VARCHAR(64)  PRIMARY KEY CHECK (key ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
    name        VARCHAR(100) NOT NULL,
    created_at  TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ  NOT NULL DEFAULT now()
);

INSERT INTO environments (key, name) VALUES
    ('development', 'Development'),
    ('staging', 'Staging'),
    ('production', 'Production');

INSERT INTO environments (key, name)
SELECT d.key, initcap(d.key)
FROM (SELECT COALESCE(NULLIF(current_setting('togglemaster.default_environment', true), ''),
                      'production') AS key) AS d
ON CONFLICT (key) DO NOTHING;

-- A missing row means "disabled": a new environment starts with every flag off.
CREATE TABLE flag_states (
    flag_id     BIGINT      NOT NULL REFERENCES flags (id) ON DELETE CASCADE,
    environment VARCHAR(64) NOT NULL REFERENCES environments (key) ON DELETE CASCADE ON UPDATE CASCADE,
    is_enabled  BOOLEAN     NOT NULL DEFAULT FALSE,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (flag_id, environment)
);

INSERT INTO flag_states (flag_id, environment, is_enabled, updated_at)
SELECT id, COALESCE(NULLIF(current_setting('togglemaster.default_environment', true), ''),
                    'production'), is_enabled, updated_at
FROM flags;

ALTER TABLE flags DROP COLUMN is_enabled;
