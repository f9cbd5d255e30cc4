"""Hooks on the engine's one per-step callback: each reads a step's state and may replace part of it."""
