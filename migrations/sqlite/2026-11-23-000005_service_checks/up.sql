-- The protocol each probed service answered in (HTTP/1.1, HTTP/2).
ALTER TABLE service_probes ADD COLUMN http_version TEXT;
