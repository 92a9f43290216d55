"""A synthetic electronic health record shaped like the OMOP CDM, for the demo.

Five tables, one Parquet file each: ``person``, ``visit_occurrence``,
``condition_occurrence``, ``drug_exposure`` and ``measurement``, with the CDM's
key columns plus readable ones (``sex``, ``region``, ``condition_code``...), so a
researcher can tabulate them without a vocabulary.  Deterministic (a seeded
numpy generator per chunk of persons), and written in chunks of
:data:`CHUNK` persons, so ten million persons take bounded memory.

The distributions are made to look like real records: an ageing population, ten
regions of unequal size, chronic conditions that rise with age, ICD-10 codes, drug
exposures that follow the conditions, visit costs with a heavy (Pareto) tail, and
two rare conditions (about 1 person in 20,000 and 1 in 60,000) that produce small
cells in any table that crosses them with anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from tre.errors import BadInput

CHUNK = 200_000
DEFAULT_PERSONS = 10_000
DEFAULT_SEED = 20240601
MIN_PERSONS, MAX_PERSONS = 1_000, 10_000_000
TABLES = ("person", "visit_occurrence", "condition_occurrence", "drug_exposure", "measurement")
EPOCH = date(2015, 1, 1).toordinal()
DAYS = date(2025, 1, 1).toordinal() - EPOCH

REGIONS = ("North East", "North West", "Yorkshire", "East Midlands", "West Midlands",
           "East", "London", "South East", "South West", "Wales")
REGION_WEIGHTS = (0.04, 0.11, 0.08, 0.07, 0.09, 0.10, 0.15, 0.14, 0.09, 0.13)
SEX = {"F": 8532, "M": 8507}  # OMOP gender concept ids


@dataclass(frozen=True)
class Condition:
    code: str  # ICD-10
    name: str
    base: float  # prevalence at age 40
    per_decade: float  # relative rise per decade of age
    drug: str | None
    measurement: tuple[str, str, float, float] | None  # name, unit, mean, sd


CONDITIONS = (
    Condition("I10", "essential hypertension", 0.12, 1.45, "amlodipine",
              ("systolic blood pressure", "mmHg", 148, 14)),
    Condition("E11", "type 2 diabetes", 0.06, 1.4, "metformin", ("HbA1c", "mmol/mol", 58, 11)),
    Condition("J45", "asthma", 0.09, 0.95, "salbutamol", None),
    Condition("F32", "depressive episode", 0.08, 1.0, "sertraline", None),
    Condition("I25", "chronic ischaemic heart disease", 0.02, 1.8, "atorvastatin", None),
    Condition("C50", "malignant neoplasm of breast", 0.008, 1.3, "tamoxifen", None),
    Condition("E84", "cystic fibrosis", 1 / 20_000, 0.7, "ivacaftor", None),  # rare
    Condition("G12.2", "motor neuron disease", 1 / 60_000, 1.5, "riluzole", None),  # rare
)
VISIT_TYPES = ("outpatient", "inpatient", "emergency")
VISIT_WEIGHTS = (0.82, 0.08, 0.10)
VISIT_COST = {"outpatient": (4.8, 0.6), "inpatient": (7.6, 0.9), "emergency": (5.9, 0.7)}


def _persons(rng: np.random.Generator, first_id: int, n: int) -> pd.DataFrame:
    # An ageing population: ages 0-100, thinning after 75.
    ages = np.clip(np.round(rng.gamma(4.2, 10.0, n)), 0, 100).astype(int)
    sex = rng.choice(list(SEX), size=n, p=(0.51, 0.49))
    return pd.DataFrame({
        "person_id": np.arange(first_id, first_id + n, dtype=np.int64),
        "gender_concept_id": np.vectorize(SEX.get)(sex).astype(np.int32),
        "sex": sex,
        "year_of_birth": (2024 - ages).astype(np.int32),
        "age": ages.astype(np.int32),
        "region": rng.choice(REGIONS, size=n, p=REGION_WEIGHTS),
    })


def _conditions(rng: np.random.Generator, persons: pd.DataFrame
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(person index, condition index, start day) of every diagnosis."""
    ages = persons["age"].to_numpy()
    who, what = [], []
    for k, c in enumerate(CONDITIONS):
        p = np.clip(c.base * c.per_decade ** ((ages - 40) / 10), 0, 0.9)
        has = np.flatnonzero(rng.random(len(ages)) < p)
        who.append(has)
        what.append(np.full(len(has), k))
    person_idx, cond_idx = np.concatenate(who), np.concatenate(what)
    return person_idx, cond_idx, rng.integers(0, DAYS - 30, len(person_idx))


def _dates(days: np.ndarray) -> pd.Series:
    return pd.Series(pd.to_datetime(days + EPOCH - date(1970, 1, 1).toordinal(), unit="D"))


def _ids(first: dict[str, int], table: str, n: int) -> np.ndarray:
    return np.arange(first[table], first[table] + n, dtype=np.int64)


def make_chunk(seed: int, index: int, first: dict[str, int], n: int) -> dict[str, pd.DataFrame]:
    """The five tables for ``n`` persons (chunk ``index``); ``first`` gives each table's
    first id (the rows written so far, plus one)."""
    rng = np.random.default_rng([seed, index])
    first_id = first["person"]
    persons = _persons(rng, first_id, n)
    pid = persons["person_id"].to_numpy()
    # Visits: more with age and with each condition.
    person_idx, cond_idx, cond_day = _conditions(rng, persons)
    burden = np.bincount(person_idx, minlength=n)
    visits_per = rng.poisson(1.5 + persons["age"].to_numpy() / 25 + 2.0 * burden)
    v_person = np.repeat(np.arange(n), visits_per)
    nv = len(v_person)
    v_type = rng.choice(VISIT_TYPES, size=nv, p=VISIT_WEIGHTS)
    v_start = rng.integers(0, DAYS - 30, nv)
    stay = np.where(v_type == "inpatient", rng.geometric(0.25, nv), 0)
    cost = np.empty(nv)
    for kind, (mu, sigma) in VISIT_COST.items():
        mask = v_type == kind
        cost[mask] = rng.lognormal(mu, sigma, mask.sum())
    # The heavy tail: 1 visit in 200 costs a Pareto multiple more.
    tail = rng.random(nv) < 0.005
    cost[tail] *= 1 + rng.pareto(1.6, tail.sum()) * 10
    v_id = _ids(first, "visit_occurrence", nv)
    visits = pd.DataFrame({
        "visit_occurrence_id": v_id, "person_id": pid[v_person],
        "visit_type": v_type, "visit_start_date": _dates(v_start),
        "visit_end_date": _dates(v_start + stay), "total_cost": np.round(cost, 2),
    })
    # Each diagnosis is recorded at one of the person's visits when they have any.
    c_visit = np.full(len(person_idx), -1, dtype=np.int64)
    first_visit = np.concatenate([[0], np.cumsum(visits_per)[:-1]])
    has_visit = visits_per[person_idx] > 0
    pick = first_visit[person_idx] + (rng.random(len(person_idx)) *
                                      np.maximum(visits_per[person_idx], 1)).astype(int)
    c_visit[has_visit] = v_id[pick[has_visit]]
    conds = pd.DataFrame({
        "condition_occurrence_id": _ids(first, "condition_occurrence", len(person_idx)),
        "person_id": pid[person_idx],
        "visit_occurrence_id": pd.array(np.where(c_visit >= 0, c_visit, 0), dtype="Int64"),
        "condition_start_date": _dates(cond_day),
        "condition_code": np.array([c.code for c in CONDITIONS])[cond_idx],
        "condition_name": np.array([c.name for c in CONDITIONS])[cond_idx],
    })
    conds.loc[c_visit < 0, "visit_occurrence_id"] = pd.NA
    # Drugs follow the conditions: a few exposures each, after the diagnosis.
    drug_of = np.array([c.drug or "" for c in CONDITIONS])
    repeats = rng.poisson(3, len(person_idx)) + 1
    d_src = np.repeat(np.arange(len(person_idx)), repeats)
    d_day = np.minimum(cond_day[d_src] + rng.integers(0, 720, len(d_src)), DAYS - 1)
    drugs = pd.DataFrame({
        "drug_exposure_id": _ids(first, "drug_exposure", len(d_src)),
        "person_id": pid[person_idx][d_src],
        "drug_exposure_start_date": _dates(d_day),
        "drug": drug_of[cond_idx][d_src],
        "days_supply": rng.choice((28, 56, 84), size=len(d_src), p=(0.6, 0.25, 0.15)),
        "quantity": rng.choice((28, 56, 84, 112), size=len(d_src)),
    })
    # Measurements: BMI for a third of persons; the condition's marker when it has one.
    bmi_who = np.flatnonzero(rng.random(n) < 0.33)
    parts = [pd.DataFrame({"person_id": pid[bmi_who], "measurement": "BMI",
                           "value_as_number": np.round(rng.normal(27.5, 5.0, len(bmi_who)), 1),
                           "unit": "kg/m2", "day": rng.integers(0, DAYS, len(bmi_who))})]
    for k, c in enumerate(CONDITIONS):
        if c.measurement is None:
            continue
        sel = cond_idx == k
        name, unit, mean, sd = c.measurement
        parts.append(pd.DataFrame({
            "person_id": pid[person_idx[sel]], "measurement": name,
            "value_as_number": np.round(rng.normal(mean, sd, sel.sum()), 1), "unit": unit,
            "day": np.minimum(cond_day[sel] + rng.integers(0, 365, sel.sum()), DAYS - 1)}))
    meas = pd.concat(parts, ignore_index=True)
    meas.insert(0, "measurement_id", _ids(first, "measurement", len(meas)))
    meas["measurement_date"] = _dates(meas.pop("day").to_numpy())
    return {"person": persons, "visit_occurrence": visits, "condition_occurrence": conds,
            "drug_exposure": drugs, "measurement": meas}


def write_ehr(dest: Path, persons: int = DEFAULT_PERSONS, seed: int = DEFAULT_SEED) -> Path:
    """Write the five tables to ``dest/<table>.parquet``; the same files for the same
    arguments.  Returns ``dest``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not MIN_PERSONS <= persons <= MAX_PERSONS:
        raise BadInput(f"persons: {persons} is outside {MIN_PERSONS:,} to {MAX_PERSONS:,}")
    dest.mkdir(parents=True, exist_ok=True)
    writers: dict[str, pq.ParquetWriter] = {}
    partial = {t: dest / f".{t}.parquet.part" for t in TABLES}
    first = dict.fromkeys(TABLES, 1)
    try:
        for index, start in enumerate(range(0, persons, CHUNK)):
            chunk = make_chunk(seed, index, first, min(CHUNK, persons - start))
            for name, frame in chunk.items():
                first[name] += len(frame)
                table = pa.Table.from_pandas(frame, preserve_index=False)
                if name not in writers:
                    writers[name] = pq.ParquetWriter(partial[name], table.schema)
                writers[name].write_table(table)
    finally:
        for writer in writers.values():
            writer.close()
    for name in TABLES:  # in place only once all are written
        partial[name].replace(dest / f"{name}.parquet")
    return dest
