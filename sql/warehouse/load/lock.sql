-- One warehouse load at a time. A row lock, not an advisory lock: bi_reader has SELECT only,
-- and FOR UPDATE needs UPDATE privilege, so a BI session can never hold (or block) it.
SELECT scope FROM load_lock WHERE scope = 'warehouse' FOR UPDATE
