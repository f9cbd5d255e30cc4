"""Every limit and tolerance that more than one part of the product relies on, each under a name that says what it
is for: a reader changes a limit here, once, and every page, job and CLI command follows.

Module-local tuning (retrieval's distance scales, phonon displacements, figure sizes) stays beside its code.
"""

# How big a cell each stage takes.
MAX_GENERATED_ATOMS = 100  # atoms per generated or inpainted cell: the embedded model was trained on up to 20
MAX_RELAX_ATOMS = 500  # atoms per cell the app relaxes (one CHGNet graph beyond this outgrows a classroom server)
MAX_VERIFY_ATOMS = 64  # per cell: its finite displacements cost 6 N supercell evaluations
MAX_FILE_BYTES = 5 * 2**20  # an uploaded structure file

# Distances and volumes that make a crystal absurd.
MIN_DISTANCE = 0.5  # Å: closer atoms are overlapping, not bonded (structural validity, CDVAE's definition)
MIN_VOLUME_PER_ATOM = 0.1  # Å^3 per atom: structural validity (CDVAE's definition)
COVALENT_FRACTION = 0.65  # of the summed covalent radii: closer pairs fail the sanity verdict (backend.metrics.sanity)
PLAUSIBLE_MIN_VOLUME_PER_ATOM = 3.0  # Å^3; below any inorganic crystal (diamond 5.7, LiH 8.4)
VOLUME_PER_ATOM_BOUNDS = (0.01, 500.0)  # Å^3 during sampling; outside, GemNet's radius graph degenerates

# Symmetry tolerances (spglib's symprec): distinct names, distinct jobs.
SYMPREC = 0.1  # Å: the space group reported for a generated crystal (it is read before any relaxation)
TIGHT_SYMPREC = 0.01  # Å: the symmetry a relaxed candidate really has, beside the 0.1 Å reading
FIX_SYMMETRY_SYMPREC = 0.01  # Å: the tolerance ASE's FixSymmetry finds the starting space group with
PRIMITIVE_SYMPREC = 0.01  # Å: the standard primitive cell and band path of a phonon calculation

# Stability.
STABLE_THRESHOLD = 0.1  # eV/atom above the hull: MatterGen's "stable" for S.U.N. (a metastable window)
