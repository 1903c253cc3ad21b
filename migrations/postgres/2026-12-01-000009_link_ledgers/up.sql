-- What each agency's links stood at when last recorded (`links::history::LinkLedger`, as
-- JSON): the digest of the list, when its oldest success was checked, what its successes
-- count for and how many links are in each class. A cycle over an unchanged list whose
-- successes are fresh reads and asks only the failing links; the metrics count links by
-- class from here instead of grouping every row of link_states.
CREATE TABLE link_ledgers (
    agency_code TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    ledger TEXT NOT NULL
);
