-- One load per retailer at a time: a row lock per retailer (scope = its code), taken in code
-- order (a load of several retailers takes theirs in the same order as any other, so two loads
-- never deadlock). Loads of different retailers take different rows and run side by side.
-- A row lock, not an advisory lock: bi_reader has SELECT only, and FOR UPDATE needs UPDATE
-- privilege, so a BI session can never hold (or block) it.
SELECT scope FROM load_lock WHERE scope = ANY(%(scopes)s) ORDER BY scope FOR UPDATE
