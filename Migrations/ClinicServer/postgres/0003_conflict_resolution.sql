-- 0003: conflicts can be resolved (as sqlite/0004; PostgreSQL has no 0003 of receipts). A
-- conflict is resolved when an accepted write of its field declares a base at or after the
-- winning clock; `resolved_by` is that write's change id.
ALTER TABLE conflicts ADD COLUMN entity TEXT;
ALTER TABLE conflicts ADD COLUMN entity_id TEXT;
ALTER TABLE conflicts ADD COLUMN field TEXT;
ALTER TABLE conflicts ADD COLUMN winning_clock TEXT;
ALTER TABLE conflicts ADD COLUMN resolved_at TEXT;
ALTER TABLE conflicts ADD COLUMN resolved_by TEXT;
UPDATE conflicts SET entity = record::jsonb->>'entity', entity_id = record::jsonb->>'entity_id',
    field = record::jsonb->>'field', winning_clock = record::jsonb->>'winning_clock';
CREATE INDEX conflicts_open ON conflicts(site_id, entity, entity_id, field) WHERE resolved_at IS NULL;
