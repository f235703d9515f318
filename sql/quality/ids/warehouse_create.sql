-- DuckDB: the warehouse's ids of the window (sql/quality/warehouse_ids.sql), appended chunk by chunk.
CREATE TABLE warehouse (retailer_code VARCHAR, sale_date VARCHAR, transaction_id VARCHAR, place VARCHAR)
