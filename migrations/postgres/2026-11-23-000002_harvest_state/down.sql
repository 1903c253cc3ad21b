DROP TABLE harvest_states;
