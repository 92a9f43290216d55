"""Every exception tre, the airlock and statbarn raise on purpose has one root (tre.errors).

The walk imports every module of the three packages, so a new exception class with
another root fails here, before it reaches a boundary as an "unexpected" bug (or, worse,
before a boundary mistakes a bug for a refusal).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest
import typer

import airlock
import statbarn
import tre
from statbarn.errors import StatbarnError
from tre.cli_errors import exit_for
from tre.errors import ExitCode, TreError, is_ours

# Internal control flow, never shown to anyone, each with why it is not a TreError (by
# class name, so that moving a module does not change the list).
ALLOWED = {
    # The sealed Jupyter contents manager (the researcher's server): raised and caught
    # inside one method when a link is swapped under it; it never leaves the module.
    "_OpenedData",
    # The sandbox: a BaseException on purpose, so that no ``except Exception`` in a parser
    # swallows the CPU limit; the sandbox turns it into LimitExceeded (a TreError).
    "_CpuTime",
    # The sandbox: the worker process died; it is restarted and LimitExceeded raised.
    "_Broken",
    # The ledger lock taken at the commit: a release came in meanwhile, the transaction
    # is rolled back and done again with the lock taken first (requests.ledger_last).
    "LedgerMoved",
}
# What the workspace image has and the platform's environment need not: such a module
# cannot be imported here (its exceptions are walked where it can).
OPTIONAL_DEPENDENCIES = {"jupyter_server"}


def _modules() -> list[str]:
    names = []
    for package in (tre, airlock, statbarn):
        root = Path(str(package.__file__)).parent
        for info in pkgutil.walk_packages([str(root)], prefix=f"{package.__name__}."):
            names.append(info.name)
    return names


def _exception_classes() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for name in _modules():
        if "migrations" in name:
            continue
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name in OPTIONAL_DEPENDENCIES:
                continue
            raise
        for obj in vars(module).values():
            if (inspect.isclass(obj) and issubclass(obj, BaseException)
                    and obj.__module__ == name):
                found[f"{name}.{obj.__qualname__}"] = obj
    return found


def test_every_exception_has_the_one_root() -> None:
    classes = _exception_classes()
    assert len(classes) > 50  # the walk found the packages' exceptions
    strays = []
    for qualname, cls in sorted(classes.items()):
        if cls.__qualname__ in ALLOWED:
            continue
        # statbarn is pure and imports nothing of tre: its own root, read alike.
        root = StatbarnError if qualname.startswith("statbarn.") else TreError
        if not issubclass(cls, root):
            strays.append(qualname)
    assert strays == []
    assert {"_CpuTime", "_Broken"} <= {c.__qualname__ for c in classes.values()}


def test_every_error_names_its_status_code_and_exit() -> None:
    for qualname, cls in _exception_classes().items():
        if not issubclass(cls, TreError | StatbarnError):
            continue
        assert isinstance(cls.code, str) and cls.code.replace("_", "").isalpha(), qualname
        assert 400 <= cls.status < 600, qualname
        assert cls.exit_code in set(ExitCode), qualname


def test_a_value_error_from_a_bug_is_an_internal_error(capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    # Before: tre.authz.cli_support treated any ValueError as bad input (exit 2).
    exit_ = exit_for(ValueError("list.index(x): x not in list"))
    assert isinstance(exit_, typer.Exit) and exit_.exit_code == 1 == int(ExitCode.INTERNAL)
    assert "unexpected ValueError: list.index(x): x not in list" in capsys.readouterr().err


def test_a_refusal_exits_with_its_own_code(capsys: pytest.CaptureFixture[str]) -> None:
    from tre.audit_verify import ProofError
    from tre.catalog.service import CatalogError

    assert exit_for(CatalogError("no project 'x'")).exit_code == 2
    assert capsys.readouterr().err == "error: no project 'x'\n"
    assert exit_for(ProofError("the proof does not hold")).exit_code == ExitCode.FAIL
    assert is_ours(CatalogError("x")) and not is_ours(ValueError("x"))


def test_statbarns_root_is_read_alike_once_loaded() -> None:
    from statbarn.errors import ProfileError

    assert is_ours(ProfileError("no profile 'x'"))
    assert exit_for(ProfileError("no profile 'x'")).exit_code == ExitCode.USAGE


def test_the_documented_codes_are_the_codes() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "errors.md").read_text()
    codes = {cls.code for cls in _exception_classes().values()
             if issubclass(cls, TreError | StatbarnError)}
    missing = sorted(c for c in codes if f"| `{c}` |" not in text)
    assert missing == []
