-- The datasets a crawl read wait here, beside its observation, until the cycle is scored:
-- apart from it, so that scoring reads every agency's observation at once but the
-- datasets one agency at a time, and the daemon's memory does not grow with the
-- federation.
ALTER TABLE cycle_work ADD COLUMN datasets TEXT;
