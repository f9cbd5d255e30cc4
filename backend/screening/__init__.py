"""Screening at scale: generate -> sanity filter -> MLIP relax -> E_hull -> shortlist, resumable.

Every candidate has an id (``b<batch>-<index>``) and every stage appends one row per candidate to its
CSV in ``OUT/stages/`` with the reason when it is rejected; a rerun reads those files and skips work
already written. Relaxation starts as soon as the first generated batch passes the filter, while later
batches are still being generated (a consumer thread here; Ray tasks with ``ray_address``).
"""
