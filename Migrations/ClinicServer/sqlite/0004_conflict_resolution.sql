-- 0004: conflicts can be resolved. A conflict is resolved when an accepted write of its field
-- declares a base at or after the winning clock (its writer had seen the winning value, or a
-- later one); `resolved_by` is that write's change id. The columns the lookup needs are taken
-- out of the stored record; `GET /v1/conflicts?status=open` lists the open ones.
ALTER TABLE conflicts ADD COLUMN entity TEXT;
ALTER TABLE conflicts ADD COLUMN entity_id TEXT;
ALTER TABLE conflicts ADD COLUMN field TEXT;
ALTER TABLE conflicts ADD COLUMN winning_clock TEXT;
ALTER TABLE conflicts ADD COLUMN resolved_at TEXT;
ALTER TABLE conflicts ADD COLUMN resolved_by TEXT;
UPDATE conflicts SET entity = json_extract(record, '$.entity'), entity_id = json_extract(record, '$.entity_id'),
    field = json_extract(record, '$.field'), winning_clock = json_extract(record, '$.winning_clock');
CREATE INDEX conflicts_open ON conflicts(site_id, entity, entity_id, field) WHERE resolved_at IS NULL;
