"""`make bench`: figures for ingestion and the warehouse load, printed and kept as JSON."""
