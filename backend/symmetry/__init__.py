"""Space-group constraints at sampling time: Wyckoff assignments and the per-step symmetry projection."""
