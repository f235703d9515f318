"""Code the retailer systems really share: server bootstrap, fault knobs, DB pool, catalogues."""
