-- The protocol each probed service answered in (HTTP/1.1, HTTP/2), and how long each
-- phase of reaching it took, in milliseconds (NULL: not reached, or plain HTTP for TLS).
ALTER TABLE service_probes ADD COLUMN http_version TEXT COLLATE "C";
ALTER TABLE service_probes ADD COLUMN dns_ms BIGINT;
ALTER TABLE service_probes ADD COLUMN connect_ms BIGINT;
ALTER TABLE service_probes ADD COLUMN tls_ms BIGINT;
ALTER TABLE service_probes ADD COLUMN first_byte_ms BIGINT;
