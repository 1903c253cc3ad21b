-- What each agency's last good harvest left: validators (ETag, Last-Modified), the body's
-- SHA-256 and what was read, so that an unchanged catalog costs one conditional request.
-- Kept as JSON text: it is only ever read back whole, by the harvester.
CREATE TABLE harvest_states (
    agency_code TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    state TEXT COLLATE "C" NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
