"""Retailer 2: its schema (schema.sql) and its Flask API (app.py)."""
