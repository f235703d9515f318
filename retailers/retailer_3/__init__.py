"""Retailer 3: its schema (schema.sql) and its Flask API (app.py)."""
