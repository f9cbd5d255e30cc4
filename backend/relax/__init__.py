"""Relaxation with machine-learned potentials (CHGNet by default), batched across structures."""
