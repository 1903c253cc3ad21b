ALTER TABLE service_probes DROP COLUMN tls_expires_at;
