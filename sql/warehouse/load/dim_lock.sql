-- The dimension lock: the short tail of a load that writes what every retailer shares, one load
-- at a time (the rest of a load runs in parallel with other retailers' loads).
-- Attaching a partition to fact_sales clones its foreign key, which takes SHARE ROW EXCLUSIVE
-- on the dimension it references (dim_product; PostgreSQL), and that conflicts with the dimension writes
-- (ROW EXCLUSIVE) of any other load still open: two loads each holding their writes and wanting
-- the other's would deadlock. So a load takes that mode on all of them first, always in this
-- order, then writes its dimensions, marts, swaps and commits; another retailer's load reaching
-- its tail waits for this commit, never the other way round. Readers (ACCESS SHARE, and the
-- foreign-key checks' KEY SHARE row locks) are not blocked.
LOCK TABLE dim_date, dim_retailer, dim_product, dim_customer, dim_store IN SHARE ROW EXCLUSIVE MODE
