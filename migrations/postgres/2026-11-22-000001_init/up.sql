-- PostgreSQL's copy of migrations/sqlite, migration for migration (a test checks the
-- names match). Text compares byte by byte (COLLATE "C"), as in SQLite, so that every
-- ORDER BY gives the same answers on both.
-- One row per crawl cycle. A cycle is visible to readers only once `finished`: a crash
-- mid-cycle leaves a `running` row that the next start marks `abandoned`, and the last
-- finished cycle stays what the API serves.
CREATE TABLE cycles (
    id BIGSERIAL PRIMARY KEY,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    status TEXT COLLATE "C" NOT NULL CHECK (status IN ('running', 'finished', 'abandoned')),
    agencies INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX cycles_by_status ON cycles (status, id);

-- The agency's name and kind are copied per cycle so that history reads as it was, across
-- renames and merges.
CREATE TABLE agency_results (
    cycle_id BIGINT NOT NULL REFERENCES cycles (id) ON DELETE CASCADE,
    agency_code TEXT COLLATE "C" NOT NULL,
    kind TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    index_points DOUBLE PRECISION NOT NULL,
    rank_overall INTEGER NOT NULL,
    rank_in_kind INTEGER NOT NULL,
    completeness DOUBLE PRECISION NOT NULL,
    datasets BIGINT NOT NULL,
    PRIMARY KEY (cycle_id, agency_code)
);
CREATE INDEX agency_results_by_agency ON agency_results (agency_code, cycle_id);

-- Each scored part of the index (targets, quality measures): new ones need no migration.
CREATE TABLE agency_components (
    cycle_id BIGINT NOT NULL REFERENCES cycles (id) ON DELETE CASCADE,
    agency_code TEXT COLLATE "C" NOT NULL,
    component TEXT COLLATE "C" NOT NULL,
    verdict TEXT COLLATE "C",
    points DOUBLE PRECISION NOT NULL,
    max_points DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (cycle_id, agency_code, component)
);

CREATE TABLE findings (
    id BIGSERIAL PRIMARY KEY,
    cycle_id BIGINT NOT NULL REFERENCES cycles (id) ON DELETE CASCADE,
    agency_code TEXT COLLATE "C" NOT NULL,
    rule TEXT COLLATE "C" NOT NULL,
    severity TEXT COLLATE "C" NOT NULL,
    subject TEXT COLLATE "C" NOT NULL,
    message TEXT COLLATE "C" NOT NULL,
    fix TEXT COLLATE "C" NOT NULL,
    points DOUBLE PRECISION NOT NULL
);
CREATE INDEX findings_by_agency ON findings (agency_code, cycle_id);

-- Observations: what each fetch and probe saw.
CREATE TABLE catalog_fetches (
    cycle_id BIGINT NOT NULL REFERENCES cycles (id) ON DELETE CASCADE,
    agency_code TEXT COLLATE "C" NOT NULL,
    url TEXT COLLATE "C",
    outcome TEXT COLLATE "C" NOT NULL,
    detail TEXT COLLATE "C",
    http_status INTEGER,
    bytes BIGINT NOT NULL,
    datasets BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    PRIMARY KEY (cycle_id, agency_code)
);

CREATE TABLE service_probes (
    id BIGSERIAL PRIMARY KEY,
    cycle_id BIGINT NOT NULL REFERENCES cycles (id) ON DELETE CASCADE,
    agency_code TEXT COLLATE "C" NOT NULL,
    url TEXT COLLATE "C" NOT NULL,
    platform TEXT COLLATE "C",
    http_status INTEGER,
    latency_ms BIGINT NOT NULL,
    failure_class TEXT COLLATE "C",
    failure TEXT COLLATE "C"
);
CREATE INDEX service_probes_by_agency ON service_probes (agency_code, cycle_id);
