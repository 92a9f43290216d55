"""Statbarns: the kind of statistic an output holds, and which rules apply to each."""

from __future__ import annotations

from enum import StrEnum

from statbarn.errors import UnsupportedError
from statbarn.verdict import Rule


class Statbarn(StrEnum):
    FREQUENCY = "frequency"
    LINEAR_AGGREGATE = "linear_aggregate"
    POSITION = "position"
    ENDPOINTS = "endpoints"
    MODE = "mode"
    SHAPE = "shape"
    MODEL = "model"
    HYPOTHESIS_TEST = "hypothesis_test"
    SURVIVAL = "survival"
    MICRODATA = "microdata"
    UNKNOWN = "unknown"


# The statistic a table cell holds -> its statbarn.
STATISTIC_STATBARN: dict[str, Statbarn] = {
    "count": Statbarn.FREQUENCY,
    "size": Statbarn.FREQUENCY,
    "sum": Statbarn.LINEAR_AGGREGATE,
    "mean": Statbarn.LINEAR_AGGREGATE,
    "median": Statbarn.POSITION,
    "quantile": Statbarn.POSITION,
    "min": Statbarn.ENDPOINTS,
    "max": Statbarn.ENDPOINTS,
    "mode": Statbarn.MODE,
    "std": Statbarn.SHAPE,
    "var": Statbarn.SHAPE,
}

# Which rules apply to a table of each statistic.  Dominance needs the individual
# contributions, so it is only meaningful for sums and means.
STATISTIC_RULES: dict[str, tuple[Rule, ...]] = {
    "count": (Rule.THRESHOLD, Rule.ZEROS, Rule.CLASS_DISCLOSURE),
    "size": (Rule.THRESHOLD, Rule.ZEROS, Rule.CLASS_DISCLOSURE),
    "sum": (Rule.THRESHOLD, Rule.NK_DOMINANCE, Rule.P_PERCENT),
    "mean": (Rule.THRESHOLD, Rule.NK_DOMINANCE, Rule.P_PERCENT),
    "median": (Rule.THRESHOLD, Rule.ZEROS),
    "quantile": (Rule.THRESHOLD, Rule.ZEROS),
    "min": (Rule.THRESHOLD, Rule.ZEROS),
    "max": (Rule.THRESHOLD, Rule.ZEROS),
    "mode": (Rule.THRESHOLD, Rule.ZEROS),
    "std": (Rule.DOF,),
    "var": (Rule.DOF,),
}

# Statistics whose cells add up along rows and columns: only these can be
# protected by secondary suppression against the margins.
ADDITIVE_STATISTICS = frozenset({"count", "size", "sum"})

_AGGFUNC_ALIASES: dict[str, str] = {
    "len": "count",
    "size": "count",
    "count": "count",
    "nunique": "unsupported",
    "sum": "sum",
    "mean": "mean",
    "average": "mean",
    "median": "median",
    "min": "min",
    "amin": "min",
    "max": "max",
    "amax": "max",
    "std": "std",
    "var": "var",
    "mode": "mode",
    "nanmean": "mean",
    "nansum": "sum",
    "nanmedian": "median",
    "nanmin": "min",
    "nanmax": "max",
    "nanstd": "std",
    "nanvar": "var",
}


def normalise_aggfunc(aggfunc: object) -> str:
    """Map a pandas-style aggfunc (string, numpy or builtin function) to a statistic name."""
    name = aggfunc if isinstance(aggfunc, str) else getattr(aggfunc, "__name__", None)
    statistic = _AGGFUNC_ALIASES.get(str(name)) if name is not None else None
    if statistic is None or statistic == "unsupported":
        raise UnsupportedError(
            f"aggfunc {aggfunc!r} is not one statbarn can check; use one of "
            "count, sum, mean, median, min, max, std, var or mode"
        )
    return statistic


def statbarn_of(statistic: str) -> Statbarn:
    return STATISTIC_STATBARN.get(statistic, Statbarn.UNKNOWN)
