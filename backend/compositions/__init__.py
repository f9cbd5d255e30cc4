"""Compositions before structures: proposing chemically sensible cell contents for composition-first generation."""
