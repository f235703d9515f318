-- Records quarantined by the warehouse load, with their reason.
SELECT retailer_code, sale_date, reason, transaction_id, quarantined_at, run_id
FROM warehouse_quarantine
ORDER BY quarantined_at DESC, retailer_code, transaction_id;
