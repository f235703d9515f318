-- A day partition dropped while attached (as the loader's swap does: detaching first would turn
-- its foreign keys into standalone ones and lock every dimension).
DROP TABLE {partition}
