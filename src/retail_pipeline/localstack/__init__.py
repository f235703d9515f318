"""The embedded local stack: PostgreSQL, the three retailer APIs, local credentials."""
