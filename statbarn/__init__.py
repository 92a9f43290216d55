"""statbarn: statistical disclosure control for research outputs.

Pure (pandas, numpy, scipy in; verdicts out), so the same code runs in the
researcher's workspace as a pre-check and in the airlock as the decision.
"""

from statbarn.checking import check_file
from statbarn.errors import StatbarnError
from statbarn.kinds import Statbarn
from statbarn.models import ModelOutput, model_output
from statbarn.profile import Profile, load_profile
from statbarn.result import STATBARN_VERSION, Assessment
from statbarn.survival import AnalysisOutput, hypothesis_test, survival_table
from statbarn.tables import TableOutput, crosstab, pivot_table
from statbarn.verdict import CellFlag, CheckResult, Rule, Verdict

__version__ = STATBARN_VERSION


def check_microdata(*args, **kwargs):  # type: ignore[no-untyped-def]
    """See :func:`statbarn.microdata.check_microdata` (imported lazily)."""
    from statbarn.microdata import check_microdata as _check

    return _check(*args, **kwargs)


__all__ = [
    "AnalysisOutput",
    "Assessment",
    "CellFlag",
    "CheckResult",
    "ModelOutput",
    "Profile",
    "Rule",
    "Statbarn",
    "StatbarnError",
    "TableOutput",
    "Verdict",
    "__version__",
    "check_file",
    "check_microdata",
    "crosstab",
    "hypothesis_test",
    "load_profile",
    "model_output",
    "pivot_table",
    "survival_table",
]
