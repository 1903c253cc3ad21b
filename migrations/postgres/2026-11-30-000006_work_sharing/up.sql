-- Several daemons on one database share each cycle. A cycle is keyed by the schedule's
-- tick (Unix seconds), so daemons that tick together find one cycle, not three; NULL for
-- a cycle started by hand or at start.
ALTER TABLE cycles ADD COLUMN slot BIGINT;
CREATE UNIQUE INDEX cycles_by_slot ON cycles (slot);

-- One row per agency per cycle: the crawl work, claimed under a lease. `owner` holds it
-- until `locked_until` (renewed while the crawl runs); a lease left to expire (its daemon
-- died) is taken over by another. `claims` and `claimed_by` record every claim, so a
-- crawl done twice shows. What the crawl saw waits here until the cycle is scored.
CREATE TABLE cycle_work (
    cycle_id BIGINT NOT NULL REFERENCES cycles (id) ON DELETE CASCADE,
    agency_code TEXT COLLATE "C" NOT NULL,
    owner TEXT COLLATE "C",
    locked_until TIMESTAMP,
    claims INTEGER NOT NULL DEFAULT 0,
    claimed_by TEXT COLLATE "C" NOT NULL DEFAULT '',
    done BOOLEAN NOT NULL DEFAULT FALSE,
    observation TEXT COLLATE "C",
    harvest_state TEXT COLLATE "C",
    PRIMARY KEY (cycle_id, agency_code)
);
