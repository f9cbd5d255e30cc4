"""Why a structure file cannot be read, said in the user's terms: which line, field or value is wrong.

Parsers explain failures in their own words ("list index out of range", "Invalid CIF file with no structures!");
these checks look at the file the way a person would, per format, and name what is missing or malformed.
"""

from __future__ import annotations

import json
from pathlib import Path

FORMATS = "CIF, POSCAR, extended XYZ or pymatgen JSON"


def _numbers(line: str, count: int) -> bool:
    parts = line.split()
    if len(parts) < count:
        return False
    try:
        [float(p) for p in parts[:count]]
    except ValueError:
        return False
    return True


def cif_problem(text: str) -> str:
    if "data_" not in text:
        return "no data_ block: this is not a CIF (a CIF starts its structure with a data_NAME line)"
    if "_cell_length_a" not in text:
        return "the CIF has no lattice (_cell_length_a/b/c and _cell_angle_* are missing)"
    for key in (
        "_cell_length_a",
        "_cell_length_b",
        "_cell_length_c",
        "_cell_angle_alpha",
        "_cell_angle_beta",
        "_cell_angle_gamma",
    ):
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip().startswith(key):
                value = line.split()[1].split("(")[0] if len(line.split()) > 1 else ""
                try:
                    float(value)
                except ValueError:
                    return f"line {number}: {key} has no number ({value or 'empty'})"
    if "_atom_site_fract_x" not in text and "_atom_site_Cartn_x" not in text:
        return "the CIF lists no atoms (no _atom_site_fract_x/y/z loop)"
    return (
        cif_degenerate_cell(text)
        or cif_bad_coordinate(text)
        or cif_overfull_site(text)
        or ("the CIF's atom-site loop cannot be read (check that every row has a value for each _atom_site_ column)")
    )


def _blocks(text: str) -> list[dict]:
    from pymatgen.io.cif import CifFile

    try:
        return [block.data for block in CifFile.from_str(text).data.values()]
    except Exception:  # noqa: BLE001 - a CIF the block reader cannot split has other problems to report
        return []


def _number(value: str) -> float:
    return float(str(value).split("(")[0])


def cif_degenerate_cell(text: str) -> str | None:
    """Cell angles that give no volume (an angle of 0 or 180°, or three that cannot close a cell)."""
    import math

    for data in _blocks(text):
        try:
            a, b, c, alpha, beta, gamma = (
                _number(data[f"_cell_{key}"])
                for key in ("length_a", "length_b", "length_c", "angle_alpha", "angle_beta", "angle_gamma")
            )
        except (KeyError, ValueError):
            continue
        ca, cb, cg = (math.cos(math.radians(x)) for x in (alpha, beta, gamma))
        radicand = 1 - ca * ca - cb * cb - cg * cg + 2 * ca * cb * cg
        if min(a, b, c) <= 0 or radicand <= 1e-8:
            return (
                f"the cell (a={a:g}, b={b:g}, c={c:g} Å, α={alpha:g}°, β={beta:g}°, γ={gamma:g}°) has no volume: "
                "an angle of 0 or 180°, angles that cannot close a cell, or a zero length"
            )
    return None


def cif_bad_coordinate(text: str) -> str | None:
    """An atom whose fractional coordinate is not a finite number (NaN, inf, a word)."""
    import math

    for data in _blocks(text):
        labels = data.get("_atom_site_label", data.get("_atom_site_type_symbol", []))
        for axis in ("x", "y", "z"):
            for label, value in zip(labels, data.get(f"_atom_site_fract_{axis}", [])):
                try:
                    finite = math.isfinite(_number(value))
                except ValueError:
                    finite = False
                if not finite:
                    return f"atom {label}: its fractional coordinate {axis} is not a number ({value})"
    return None


def _overfull(position: str, species: dict[str, float]) -> str:
    shares = ", ".join(f"{element} {share:g}" for element, share in species.items())
    return f"occupancies on the site at {position} sum to {sum(species.values()):.3g} ({shares}); at most 1 is possible"


def cif_overfull_site(text: str) -> str | None:
    """A site whose species' occupancies add up to more than 1 (pymatgen then parses no structure at all)."""
    for data in _blocks(text):
        if "_atom_site_occupancy" not in data or "_atom_site_fract_x" not in data:
            continue
        symbols = data.get("_atom_site_type_symbol", data.get("_atom_site_label", []))
        columns = ("_atom_site_fract_x", "_atom_site_fract_y", "_atom_site_fract_z", "_atom_site_occupancy")
        sites: dict[str, dict[str, float]] = {}
        for symbol, *values in zip(symbols, *(data[c] for c in columns)):
            try:
                x, y, z, share = (float(v.split("(")[0]) for v in values)
            except ValueError:
                continue
            species = sites.setdefault(f"({x:.4f}, {y:.4f}, {z:.4f})", {})
            species[symbol] = species.get(symbol, 0.0) + share
        for position, species in sites.items():
            if sum(species.values()) > 1.0 + 1e-3:
                return _overfull(position, species)
    return None


def poscar_problem(lines: list[str]) -> str:
    if len(lines) < 8:
        return (
            "a POSCAR needs at least 8 lines (comment, scale, 3 lattice vectors, counts, mode, positions); "
            f"this has {len(lines)}"
        )
    if not _numbers(lines[1], 1):
        return f"line 2: the scale factor is not a number ({lines[1].strip()[:30]})"
    for number in (3, 4, 5):
        if not _numbers(lines[number - 1], 3):
            return f"line {number}: a lattice vector needs three numbers ({lines[number - 1].strip()[:40]})"
    counts_line = 7 if not _numbers(lines[5], 1) else 6
    try:
        counts = [int(p) for p in lines[counts_line - 1].split()]
    except ValueError:
        return f"line {counts_line}: the atom counts are not whole numbers ({lines[counts_line - 1].strip()[:40]})"
    mode_line = counts_line + 1
    if lines[mode_line - 1].strip()[:1].lower() == "s":
        mode_line += 1
    positions = [line for line in lines[mode_line:] if line.strip()]
    if len(positions) < sum(counts):
        return f"the counts on line {counts_line} add up to {sum(counts)} atoms but {len(positions)} positions follow"
    bad = next((i for i, line in enumerate(positions[: sum(counts)]) if not _numbers(line, 3)), None)
    if bad is not None:
        return f"line {mode_line + 1 + bad}: a position needs three numbers ({positions[bad].strip()[:40]})"
    return "the POSCAR's element names are missing (add a line of symbols above the counts)"


def json_problem(text: str) -> str:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"not valid JSON (line {exc.lineno}, column {exc.colno})"
    if not isinstance(data, dict) or "lattice" not in data or "sites" not in data:
        return "JSON without a pymatgen Structure (it needs 'lattice' and 'sites')"
    for site in data["sites"] if isinstance(data["sites"], list) else []:
        try:
            species = {s["element"]: float(s.get("occu", 1.0)) for s in site["species"]}
        except (KeyError, TypeError, ValueError):
            continue
        if sum(species.values()) > 1.0 + 1e-3:
            return _overfull("(" + ", ".join(f"{float(v):.4f}" for v in site.get("abc", ())) + ")", species)
    return "the Structure JSON's lattice or sites cannot be read (a site needs 'species' and 'abc')"


def xyz_problem(lines: list[str]) -> str:
    try:
        count = int(lines[0].split()[0])
    except (IndexError, ValueError):
        return "line 1 of an XYZ file must be the number of atoms"
    if len(lines) < count + 2:
        return f"line 1 announces {count} atoms but {max(len(lines) - 2, 0)} atom lines follow"
    if "Lattice=" not in lines[1]:
        return 'line 2 has no Lattice="..." (extended XYZ needs the cell to make a crystal)'
    return "the extended XYZ's atom lines cannot be read (each needs a symbol and three coordinates)"


def unreadable_reason(path: Path) -> str:
    """The first thing wrong with ``path`` as the structure file its suffix says it is."""
    head = path.read_bytes()[:65536]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or "\x00" in text:
        return f"binary data, not a structure file ({FORMATS})"
    lines = text.splitlines()
    suffix = path.suffix.lower()
    if suffix == ".cif":
        return cif_problem(text)
    if suffix == ".json":
        return json_problem(text)
    if suffix in (".xyz", ".extxyz"):
        return xyz_problem(lines)
    if suffix in (".vasp", ".poscar") or path.name.upper().startswith(("POSCAR", "CONTCAR")):
        return poscar_problem(lines)
    return f"not a structure file this app reads ({FORMATS}; name it .cif, .vasp, .json or .extxyz)"
