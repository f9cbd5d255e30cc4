"""Diffusion sampling with MatterGen: models, requests, the engine and its per-step hook."""
