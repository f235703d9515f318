"""Retailer 4: its schema (schema.sql), its Flask API (app.py) with OAuth2 tokens (tokens.py)."""
