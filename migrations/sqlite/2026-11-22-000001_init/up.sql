-- One row per crawl cycle. A cycle is visible to readers only once `finished`: a crash
-- mid-cycle leaves a `running` row that the next start marks `abandoned`, and the last
-- finished cycle stays what the API serves.
CREATE TABLE cycles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'abandoned')),
    agencies INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX cycles_by_status ON cycles (status, id);

-- The agency's name and kind are copied per cycle so that history reads as it was, across
-- renames and merges.
CREATE TABLE agency_results (
    cycle_id BIGINT NOT NULL REFERENCES cycles (id) ON DELETE CASCADE,
    agency_code TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
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
    agency_code TEXT NOT NULL,
    component TEXT NOT NULL,
    verdict TEXT,
    points DOUBLE PRECISION NOT NULL,
    max_points DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (cycle_id, agency_code, component)
);

CREATE TABLE findings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    cycle_id BIGINT NOT NULL REFERENCES cycles (id) ON DELETE CASCADE,
    agency_code TEXT NOT NULL,
    rule TEXT NOT NULL,
    severity TEXT NOT NULL,
    subject TEXT NOT NULL,
    message TEXT NOT NULL,
    fix TEXT NOT NULL,
    points DOUBLE PRECISION NOT NULL
);
CREATE INDEX findings_by_agency ON findings (agency_code, cycle_id);

-- Observations: what each fetch and probe saw.
CREATE TABLE catalog_fetches (
    cycle_id BIGINT NOT NULL REFERENCES cycles (id) ON DELETE CASCADE,
    agency_code TEXT NOT NULL,
    url TEXT,
    outcome TEXT NOT NULL,
    detail TEXT,
    http_status INTEGER,
    bytes BIGINT NOT NULL,
    datasets BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    PRIMARY KEY (cycle_id, agency_code)
);

CREATE TABLE service_probes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    cycle_id BIGINT NOT NULL REFERENCES cycles (id) ON DELETE CASCADE,
    agency_code TEXT NOT NULL,
    url TEXT NOT NULL,
    platform TEXT,
    http_status INTEGER,
    latency_ms BIGINT NOT NULL,
    failure_class TEXT,
    failure TEXT
);
CREATE INDEX service_probes_by_agency ON service_probes (agency_code, cycle_id);
