ALTER TABLE service_probes DROP COLUMN first_byte_ms;
ALTER TABLE service_probes DROP COLUMN tls_ms;
ALTER TABLE service_probes DROP COLUMN connect_ms;
ALTER TABLE service_probes DROP COLUMN dns_ms;
ALTER TABLE service_probes DROP COLUMN http_version;
