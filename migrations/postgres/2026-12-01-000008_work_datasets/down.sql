ALTER TABLE cycle_work DROP COLUMN datasets;
