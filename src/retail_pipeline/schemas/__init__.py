"""pandera schemas of each stage: the retailers' source shapes (from the registry), the canonical
sales record, the warehouse frames, and the one translator of their failures into reasons."""
