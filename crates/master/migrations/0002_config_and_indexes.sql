-- Settings the store remembers between runs (e.g. the local software
-- release root its local URLs are relative to).
CREATE TABLE config (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Lookups by tree (children of a root, bang, destruction) and by software
-- release (hosts of shared instances) stay fast with many slots.
CREATE INDEX partition_slot_requested_by ON partition_slot (requested_by);
CREATE INDEX partition_slot_software ON partition_slot (software_release, computer_reference);
CREATE INDEX shared_instance_reference ON shared_instance (reference);
