-- API keys. Only the SHA-256 of a key is kept: `echo -n "$KEY" | sha256sum` matches key_hash.
CREATE TABLE api_keys (
    id          BIGSERIAL PRIMARY KEY,
    name        VARCHAR(100) NOT NULL,
    key_hash    CHAR(64)     NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),
    is_active   BOOLEAN      NOT NULL DEFAULT TRUE,
    created_at  TIMESTAMPTZ  NOT NULL DEFAULT now()
);
