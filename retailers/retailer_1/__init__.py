"""Retailer 1: its schema (schema.sql) and its Flask API (app.py)."""
