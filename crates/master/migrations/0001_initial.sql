-- Initial schema of the master store. Portable between SQLite and
-- PostgreSQL: only TEXT, BIGINT and DOUBLE PRECISION columns, no
-- engine-specific syntax. `position` columns keep insertion order, which the
-- protocol exposes (slots in format order, software in supply order).

CREATE TABLE computer (
    reference TEXT PRIMARY KEY,
    address TEXT,
    netmask TEXT,
    position BIGINT NOT NULL
);

CREATE TABLE software_installation (
    url TEXT NOT NULL,
    computer_reference TEXT NOT NULL,
    requested_state TEXT NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (url, computer_reference)
);

CREATE TABLE partition_slot (
    computer_reference TEXT NOT NULL,
    reference TEXT NOT NULL,
    position BIGINT NOT NULL,
    busy BIGINT NOT NULL DEFAULT 0,
    software_release TEXT,
    software_type TEXT,
    title TEXT,
    requested_by TEXT NOT NULL DEFAULT '',
    requester_id TEXT NOT NULL DEFAULT '',
    requested_state TEXT NOT NULL DEFAULT 'started',
    parameter_xml TEXT,
    connection_xml TEXT,
    shared_instance_list TEXT,
    timestamp_s DOUBLE PRECISION,
    PRIMARY KEY (computer_reference, reference)
);

-- The scope of an instance is (title, root title): at most one busy slot
-- holds it, whatever the computer.
CREATE UNIQUE INDEX partition_slot_instance
    ON partition_slot (title, requested_by) WHERE busy = 1;

CREATE TABLE partition_address (
    computer_reference TEXT NOT NULL,
    partition_reference TEXT NOT NULL,
    interface TEXT NOT NULL,
    address TEXT NOT NULL,
    netmask TEXT NOT NULL,
    position BIGINT NOT NULL
);
CREATE INDEX partition_address_slot
    ON partition_address (computer_reference, partition_reference);

CREATE TABLE shared_instance (
    reference TEXT NOT NULL,
    computer_reference TEXT NOT NULL,
    hosted_by TEXT NOT NULL,
    connection_xml TEXT,
    requester_id TEXT NOT NULL DEFAULT '',
    position BIGINT NOT NULL,
    PRIMARY KEY (reference, computer_reference)
);
