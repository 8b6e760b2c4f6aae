-- The first free slot of a node, in format order, is one index seek.
CREATE INDEX partition_slot_free ON partition_slot (computer_reference, busy, position)
