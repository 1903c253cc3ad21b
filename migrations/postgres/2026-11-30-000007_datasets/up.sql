-- The national catalog: each agency's datasets as its last good harvest listed them, a
-- few fields each (the catalog itself stays the agency's). A full harvest replaces the
-- agency's rows; an incremental one (CKAN) replaces the packages it read again. `dataset_key`
-- is the identifier, or the record's position when it has none.
CREATE TABLE datasets (
    agency_code TEXT COLLATE "C" NOT NULL,
    dataset_key TEXT COLLATE "C" NOT NULL,
    identifier TEXT,
    title TEXT,
    publisher TEXT,
    modified TEXT,
    license TEXT,
    -- JSON arrays of strings.
    keywords TEXT NOT NULL,
    formats TEXT NOT NULL,
    download_urls TEXT NOT NULL,
    landing_url TEXT,
    -- Title, keywords and publisher in lower case without diacritics, for search.
    search_text TEXT NOT NULL,
    harvested_at TIMESTAMP NOT NULL,
    PRIMARY KEY (agency_code, dataset_key)
);
