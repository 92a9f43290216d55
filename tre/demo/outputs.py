"""Demo data: a synthetic patient dataset and outputs made from it with statbarn.

Everything is deterministic (a seeded numpy generator), so the demo's verdicts are
the same on every machine:

* ``patients_by_region_sex.csv``: a count table, every cell far above 10: passes;
* ``mean_cost_by_region_sex.csv``: a mean table with an evidence sidecar: passes;
* ``mean_cost_by_diagnosis_sex.csv``: a mean table including a rare condition
  (7 patients in all), so its cells fall below the threshold: fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from statbarn.profile import Profile
    from statbarn.result import Assessment

DEFAULT_ROWS = 5000
DEFAULT_SEED = 20240601
RARE_CONDITION = "rare condition"
RARE_PATIENTS = 7

REGIONS = (
    "North East", "North West", "Yorkshire", "East Midlands", "West Midlands",
    "East", "London", "South East", "South West", "Wales",
)
REGION_WEIGHTS = (0.06, 0.12, 0.10, 0.09, 0.10, 0.11, 0.15, 0.13, 0.08, 0.06)
AGE_BANDS = ("0-17", "18-39", "40-64", "65-79", "80+")
AGE_WEIGHTS = (0.18, 0.30, 0.30, 0.15, 0.07)
DIAGNOSES = ("none", "asthma", "diabetes", "hypertension")
DIAGNOSIS_WEIGHTS = (0.55, 0.12, 0.13, 0.20)

DATASET_NAME = "patients.csv"


@dataclass(frozen=True)
class DemoOutput:
    """One output the demo writes: a file name and how statbarn should treat it."""

    name: str
    index: str
    columns: str
    aggfunc: str | None  # None: a count table


DEMO_OUTPUTS = (
    DemoOutput("patients_by_region_sex.csv", "region", "sex", None),
    DemoOutput("mean_cost_by_region_sex.csv", "region", "sex", "mean"),
    DemoOutput("mean_cost_by_diagnosis_sex.csv", "diagnosis", "sex", "mean"),
)


def make_demo_frame(n_rows: int = DEFAULT_ROWS, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """Synthetic patients: region (10 levels), sex, age band, diagnosis and a yearly cost.

    Exactly :data:`RARE_PATIENTS` rows (fewer when ``n_rows`` is smaller) have the
    diagnosis :data:`RARE_CONDITION`, so any table over diagnosis has unsafe cells.
    """
    if n_rows < 1:
        raise ValueError("n_rows must be at least 1")
    rng = np.random.default_rng(seed)
    diagnosis = rng.choice(DIAGNOSES, size=n_rows, p=DIAGNOSIS_WEIGHTS).astype(object)
    rare = rng.choice(n_rows, size=min(RARE_PATIENTS, n_rows), replace=False)
    diagnosis[rare] = RARE_CONDITION
    age = rng.choice(len(AGE_BANDS), size=n_rows, p=AGE_WEIGHTS)
    # Costs grow with age and are skewed, like real healthcare costs.
    age_factor = 1.0 + 0.5 * age
    cost = np.round(rng.lognormal(mean=6.0, sigma=0.9, size=n_rows) * age_factor, 2)
    return pd.DataFrame(
        {
            "patient_id": np.arange(1, n_rows + 1),
            "region": rng.choice(REGIONS, size=n_rows, p=REGION_WEIGHTS),
            "sex": rng.choice(("F", "M"), size=n_rows),
            "age_band": np.asarray(AGE_BANDS)[age],
            "diagnosis": diagnosis,
            "cost": cost,
        }
    )


def write_demo_outputs(
    dest: Path, n_rows: int = DEFAULT_ROWS, seed: int = DEFAULT_SEED
) -> list[Path]:
    """Write the demo dataset to ``dest/data`` and the demo outputs to ``dest/outputs``.

    The outputs are made with statbarn's pandas-compatible wrappers, so each one
    comes with its evidence sidecar.  Returns the paths of the outputs (not the
    dataset).  Existing files are overwritten, so running twice gives the same files.
    """
    import statbarn as sb

    df = make_demo_frame(n_rows, seed)
    data_dir = dest / "data"
    out_dir = dest / "outputs"
    data_dir.mkdir(parents=True, exist_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    df.to_csv(data_dir / DATASET_NAME, index=False)

    written: list[Path] = []
    for spec in DEMO_OUTPUTS:
        path = out_dir / spec.name
        if spec.aggfunc is None:
            out = sb.crosstab(df[spec.index], df[spec.columns], margins=True)
        else:
            out = sb.crosstab(
                df[spec.index], df[spec.columns], values=df["cost"], aggfunc=spec.aggfunc,
                margins=True,
            )
        out.save(path)
        written.append(path)
    return written


def check_demo_outputs(
    paths: list[Path], profile: str | Path | Profile | None = None
) -> list[Assessment]:
    """Check each output with statbarn (the sidecar next to it is found by statbarn)."""
    import statbarn as sb

    return [sb.check_file(path, profile=profile) for path in paths]
