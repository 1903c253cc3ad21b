ALTER TABLE service_probes DROP COLUMN http_version;
