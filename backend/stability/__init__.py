"""Stability of candidates: energy above an offline Materials Project GGA/GGA+U hull, and its figures."""
