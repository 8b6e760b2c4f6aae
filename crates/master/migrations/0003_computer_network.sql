-- The network a compute node belongs to, for the SLA `network_guid` and
-- `mode = unique_by_network` (NULL: in no network).
ALTER TABLE computer ADD COLUMN network TEXT
