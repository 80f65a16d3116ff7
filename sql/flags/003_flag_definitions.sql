-- Flag definitions (issue 4): a type, typed variants with an off and a default
-- variant, tags, an owner, and archiving. Every existing flag becomes what it always
-- was -- a boolean flag whose "on" variant is true and "off" variant false -- so it
-- answers exactly as before. The variant values are checked against the type by the
-- flags function (engine.parse_variants) before they are written.
ALTER TABLE flags
    ADD COLUMN type            VARCHAR(16)  NOT NULL DEFAULT 'boolean'
        CONSTRAINT flags_type_known CHECK (type IN ('boolean', 'string', 'number', 'json')),
    ADD COLUMN variants        JSONB        NOT NULL DEFAULT '{"on": true, "off": false}',
    ADD COLUMN off_variant     VARCHAR(200) NOT NULL DEFAULT 'off',
    ADD COLUMN default_variant VARCHAR(200) NOT NULL DEFAULT 'on',
    ADD COLUMN tags            TEXT[]       NOT NULL DEFAULT '{}',
    ADD COLUMN owner           VARCHAR(200),
    -- NULL: active. Archiving keeps every state, rule and history row.
    ADD COLUMN archived_at     TIMESTAMPTZ;

ALTER TABLE flags ADD CONSTRAINT flags_variants_named CHECK (
    jsonb_typeof(variants) = 'object' AND variants ? off_variant AND variants ? default_variant
);

CREATE INDEX flags_tags ON flags USING GIN (tags);
