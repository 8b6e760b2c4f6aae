-- Requests this master forwarded to another master (multi-master
-- forwarding, the proxy's `forwarded_partition_request`): the reference
-- sent, `<requester id>_<title>`, and the master it was sent to. A row is
-- added by every forwarded request and deleted when the forwarded instance
-- is requested destroyed.
CREATE TABLE forwarded_request (
    reference TEXT NOT NULL,
    master_url TEXT NOT NULL,
    PRIMARY KEY (reference, master_url)
);
