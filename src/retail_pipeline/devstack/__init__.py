"""The dev stack: PostgreSQL, one simulated API per registry retailer, local credentials."""
