-- A retailer's sub-parent of fact_sales (fact_sales_r<id>, partitioned by date_id), created
-- before its first load (010_fact_sales_by_retailer.sql); committed before the load's transaction.
SELECT fact_sales_retailer_partition(%(retailer_id)s)
