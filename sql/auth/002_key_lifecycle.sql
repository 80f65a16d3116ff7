-- Keys as a product (issue 3): scopes, visible prefix, environment binding, expiry,
-- last use, soft revocation, and an audit trail. 001 is never edited: existing
-- databases migrate forward, and their keys keep what the old system let every key
-- do (read, write, evaluate: SEED_SCOPES in functions/core/keys.py), never admin.
ALTER TABLE api_keys
    ADD COLUMN scopes       TEXT[]      NOT NULL DEFAULT ARRAY['read', 'write', 'evaluate'],
    ADD COLUMN prefix       VARCHAR(12),
    ADD COLUMN environment  VARCHAR(64),
    ADD COLUMN expires_at   TIMESTAMPTZ,
    ADD COLUMN last_used_at TIMESTAMPTZ,
    ADD COLUMN revoked_at   TIMESTAMPTZ,
    ADD CONSTRAINT api_keys_scopes_known
        CHECK (cardinality(scopes) >= 1
               AND scopes <@ ARRAY['admin', 'write', 'read', 'evaluate']::TEXT[]),
    ADD CONSTRAINT api_keys_environment_name
        CHECK (environment ~ '^[a-z0-9][a-z0-9_-]{0,63}$');

-- NULL environment = the key may act on every environment.
CREATE INDEX api_keys_active_environment ON api_keys (environment) WHERE is_active;

-- Who created, revoked or rotated which key, and when. `actor` is 'master',
-- 'bootstrap' or 'key' (then actor_key_id names the admin key).
CREATE TABLE api_key_audit (
    id           BIGSERIAL   PRIMARY KEY,
    action       VARCHAR(16) NOT NULL CHECK (action IN ('create', 'revoke', 'rotate')),
    key_id       BIGINT      NOT NULL REFERENCES api_keys (id),
    new_key_id   BIGINT      REFERENCES api_keys (id),
    actor        VARCHAR(16) NOT NULL CHECK (actor IN ('master', 'bootstrap', 'key')),
    actor_key_id BIGINT      REFERENCES api_keys (id),
    at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((actor = 'key') = (actor_key_id IS NOT NULL))
);
