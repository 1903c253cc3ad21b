DROP TABLE link_ledgers;
