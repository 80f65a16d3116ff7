-- Targeting rules, one row per flag. They live beside `flags` in the configuration
-- database, so a flag's deletion takes its rules with it in the same transaction.
CREATE TABLE targeting_rules (
    id          BIGSERIAL PRIMARY KEY,
    flag_name   VARCHAR(100) NOT NULL UNIQUE REFERENCES flags (name) ON DELETE CASCADE ON UPDATE CASCADE,
    is_enabled  BOOLEAN      NOT NULL DEFAULT TRUE,
    rules       JSONB        NOT NULL,
    created_at  TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ  NOT NULL DEFAULT now()
);
