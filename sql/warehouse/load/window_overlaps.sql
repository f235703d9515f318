-- True when two of the load's days of one retailer have overlapping id ranges: only then can a
-- line be on two of them (window_duplicates.sql looks).
SELECT EXISTS (SELECT 1 FROM tmp_new_ranges a
               JOIN tmp_new_ranges b ON b.retailer_id = a.retailer_id AND b.date_id > a.date_id
               WHERE a.first_transaction_id <= b.last_transaction_id
                 AND b.first_transaction_id <= a.last_transaction_id)
