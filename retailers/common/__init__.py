"""Code the three retailer systems really share: server bootstrap, fault knobs, DB pool, catalogues."""
