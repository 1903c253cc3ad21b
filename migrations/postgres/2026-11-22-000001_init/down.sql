DROP TABLE service_probes;
DROP TABLE catalog_fetches;
DROP TABLE findings;
DROP TABLE agency_components;
DROP TABLE agency_results;
DROP TABLE cycles;
