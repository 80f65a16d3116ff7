-- Segments (issue 4): named audiences that targeting rules reference by key. They are
-- shared by every environment, like flag definitions, so a rule promoted from staging
-- to production still names segments that exist. `document` is the engine's canonical
-- segment document (engine.segment_to_document), checked before it is written.
CREATE TABLE segments (
    key         VARCHAR(100) PRIMARY KEY,
    document    JSONB        NOT NULL CONSTRAINT segments_document_key CHECK (document ->> 'key' = key),
    created_at  TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ  NOT NULL DEFAULT now()
);

-- "Which rules name this segment?" (refusing to delete a segment in use) is a JSONB
-- containment query on the rule documents.
CREATE INDEX targeting_rules_documents ON targeting_rules USING GIN (rules jsonb_path_ops);
