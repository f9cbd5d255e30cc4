"""Display formatting every page shares: column names with units and sensible decimals (the CSV files keep the plain
names)."""

from __future__ import annotations

import pandas as pd

# Column names with units, and decimals, for every table a page shows (the CSV files keep the plain names).
DISPLAY_COLUMNS = {
    "energy_per_atom": ("E (eV/atom)", 4),
    "e_form_per_atom": ("E_form (eV/atom)", 3),
    "e_above_hull": ("E_above_hull (eV/atom)", 3),
    "rmsd": ("RMSD from generated (Å)", 3),
    "volume_change": ("volume change (fraction)", 3),
    "min_guest_host_distance": ("closest guest-host (Å)", 2),
    "max_host_deviation": ("largest host deviation (Å)", 3),
    "volume_per_atom": ("volume (Å³/atom)", 2),
    "density": ("density (g/cm³)", 3),
    "n_atoms": ("atoms", 0),
    "steps": ("steps", 0),
    "rate": ("rate", 3),
    "shortest bond (Å)": ("shortest bond (Å)", 3),
    "lowest_frequency_thz": ("lowest frequency (THz)", 2),
    "bulk_modulus_gpa": ("bulk modulus (GPa)", 1),
    "magnetic_density": ("magnetic density (μB/Å³)", 4),
    "max_magmom": ("largest moment (μB)", 2),
}


def for_display(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with units in the column names and sensible decimals (no 15-digit floats)."""
    shown = frame.copy()
    if "reduced_formula" in shown:  # one formula style everywhere: pymatgen's reduced formula
        shown = shown.drop(columns=["formula"], errors="ignore").rename(columns={"reduced_formula": "formula"})
    for column, (label, decimals) in DISPLAY_COLUMNS.items():
        if column in shown:
            shown[column] = pd.to_numeric(shown[column], errors="coerce").round(decimals)
            shown = shown.rename(columns={column: label})
    return shown
