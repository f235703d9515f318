"""pandera models of each stage: the retailers' source shapes and the canonical sales record."""
