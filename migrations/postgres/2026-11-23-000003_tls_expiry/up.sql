-- When each probed HTTPS service's certificate expires (Unix seconds).
ALTER TABLE service_probes ADD COLUMN tls_expires_at BIGINT;
