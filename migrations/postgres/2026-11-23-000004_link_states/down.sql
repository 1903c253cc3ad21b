ALTER TABLE catalog_fetches DROP COLUMN links_mismatched;
ALTER TABLE catalog_fetches DROP COLUMN links_broken;
ALTER TABLE catalog_fetches DROP COLUMN links_checked;
DROP TABLE link_states;
