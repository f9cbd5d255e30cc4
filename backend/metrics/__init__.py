"""Quality metrics of generated crystals: validity, uniqueness, novelty, batch rates, composition statistics."""

from backend.metrics.matching import composition_novel, structure_novel, unique_mask
from backend.metrics.rates import STABLE_THRESHOLD, BatchRates, Rate, batch_rates
from backend.metrics.statistics import CompositionStatistics, composition_statistics, statistics_table
from backend.metrics.validity import (
    MIN_DISTANCE,
    MIN_VOLUME_PER_ATOM,
    Validity,
    charge_balance,
    min_distance,
    smact_valid,
    validity,
)

__all__ = [
    "MIN_DISTANCE",
    "MIN_VOLUME_PER_ATOM",
    "STABLE_THRESHOLD",
    "BatchRates",
    "CompositionStatistics",
    "Rate",
    "Validity",
    "batch_rates",
    "charge_balance",
    "composition_novel",
    "composition_statistics",
    "min_distance",
    "smact_valid",
    "statistics_table",
    "structure_novel",
    "unique_mask",
    "validity",
]
