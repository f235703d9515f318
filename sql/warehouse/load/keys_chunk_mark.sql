-- The last row of a day table (its greatest ctid), read from its last blocks only: rows are
-- appended, but a COPY may continue on the last used page and extend the table by more pages
-- than it fills, so the chunk after starts after this row, not at a block boundary. NULL when
-- those blocks are all empty (then the loader reads on from the previous mark).
SELECT max(ctid) FROM {stage} WHERE ctid >= %(from)s::tid
