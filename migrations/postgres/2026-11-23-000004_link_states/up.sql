-- Each agency's catalog links as the link checker last saw them, with their history: a
-- link counts as broken only after failing in enough consecutive cycles, so one bad
-- minute on an agency's server never flips a verdict. Keyed by agency, because a link's
-- history is part of the agency's record (two agencies listing one URL each keep theirs).
CREATE TABLE link_states (
    agency_code TEXT COLLATE "C" NOT NULL,
    url TEXT COLLATE "C" NOT NULL,
    -- The media type the catalog declares for it, if any.
    media_type TEXT COLLATE "C",
    class TEXT COLLATE "C" NOT NULL,
    http_status INTEGER,
    content_type TEXT COLLATE "C",
    final_url TEXT COLLATE "C",
    detail TEXT COLLATE "C" NOT NULL,
    consecutive_failures INTEGER NOT NULL,
    -- Failed in as many consecutive cycles as the configuration asked when last checked.
    broken BOOLEAN NOT NULL,
    first_failure TIMESTAMP,
    last_success TIMESTAMP,
    checked_at TIMESTAMP NOT NULL,
    -- The cycle that last counted this link: a second check in the same cycle (a lease
    -- taken over) does not count a second failure.
    cycle_id BIGINT NOT NULL,
    PRIMARY KEY (agency_code, url)
);

-- What the links counted for in each cycle (NULL: not checked), so history shows it.
ALTER TABLE catalog_fetches ADD COLUMN links_checked BIGINT;
ALTER TABLE catalog_fetches ADD COLUMN links_broken BIGINT;
ALTER TABLE catalog_fetches ADD COLUMN links_mismatched BIGINT;
