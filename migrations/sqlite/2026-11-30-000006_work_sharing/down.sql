DROP TABLE cycle_work;
DROP INDEX cycles_by_slot;
ALTER TABLE cycles DROP COLUMN slot;
