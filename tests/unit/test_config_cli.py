"""`tre config`: one place that lists every setting, validates them all, and names strays."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic_settings import BaseSettings
from typer.testing import CliRunner

from tre.cli import app
from tre.cli_config import reference_markdown, sections, unknown_variables

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


def test_the_reference_in_docs_is_generated_from_the_code() -> None:
    # Regenerate with `tre config reference --write` after adding or changing a setting.
    assert (REPO / "docs" / "configuration.md").read_text(encoding="utf-8") == \
        reference_markdown()


def test_every_setting_of_every_section_is_in_the_reference() -> None:
    text = reference_markdown()
    for s in sections():
        for field in s.model.model_fields:
            assert f"`{s.prefix}{field.upper()}`" in text


def test_a_misspelt_variable_is_named_with_the_one_it_resembles() -> None:
    found = unknown_variables({"TRE_AIRLOCK_MAX_FILE": "3", "TRE_PROFILE": "strict",
                               "PATH": "/bin"}, sections())
    assert found == ["TRE_AIRLOCK_MAX_FILE is not a tre setting and is ignored "
                     "(did you mean TRE_AIRLOCK_MAX_FILES?)"]


def test_check_passes_on_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    result = runner.invoke(app, ["config", "check"])
    assert result.exit_code == 0, result.output
    assert "settings OK" in result.output


def test_check_names_a_bad_value_and_a_stray_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRE_NOTIFY_MAX_ATTEMPTS", "lots")
    monkeypatch.setenv("TRE_DATABSE_URL", "sqlite://")
    result = runner.invoke(app, ["config", "check"])
    assert result.exit_code == 2
    assert "notify: invalid settings: TRE_NOTIFY_MAX_ATTEMPTS: Input should be a valid " \
        "integer" in result.output
    assert "TRE_DATABSE_URL is not a tre setting and is ignored (did you mean " \
        "TRE_DATABASE_URL?)" in result.output
    assert "Traceback" not in result.output


def test_show_hides_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRE_SECRET_KEY", "s3cr3t-value-that-must-not-print-0123456789")
    monkeypatch.setenv("TRE_NOTIFY_SMTP_PASSWORD", "hunter2-hunter2")
    result = runner.invoke(app, ["config", "show"])
    assert result.exit_code == 0, result.output
    assert "TRE_SECRET_KEY = (set, hidden)" in result.output
    assert "s3cr3t" not in result.output and "hunter2" not in result.output


def _settings_models() -> list[type[BaseSettings]]:
    """Every settings model the sections import, subclasses of subclasses included."""
    sections()  # imports every component's settings module
    found: list[type[BaseSettings]] = []
    todo = list(BaseSettings.__subclasses__())
    while todo:
        model = todo.pop()
        found.append(model)
        todo += model.__subclasses__()
    return [m for m in found if m.__module__.split(".")[0] in {"tre", "airlock", "workspaces"}]


def test_every_variable_is_declared_by_one_settings_model() -> None:
    # TRE_AIRLOCK_PORT was declared twice (AirlockSettings.port and
    # WorkspaceSettings.airlock_port), each with its own default and bounds; it is now the
    # platform's ServiceSettings.airlock_port, which both apps read.  Fails on the old code.
    declared: dict[str, list[str]] = {}
    for model in _settings_models():
        prefix = str(model.model_config.get("env_prefix") or "")
        own = set(vars(model).get("__annotations__", {})) & set(model.model_fields)
        for field in own:
            declared.setdefault(f"{prefix}{field.upper()}", []).append(
                f"{model.__module__}.{model.__qualname__}.{field}")
    twice = {name: where for name, where in declared.items() if len(where) > 1}
    assert twice == {}
    assert declared["TRE_AIRLOCK_PORT"] == ["tre.settings.ServiceSettings.airlock_port"]


def test_the_airlock_and_the_hub_read_the_one_port(monkeypatch: pytest.MonkeyPatch) -> None:
    from airlock.settings import load_airlock_settings
    from tre.settings import load_settings
    from workspaces.settings import load_workspace_settings

    monkeypatch.setenv("TRE_AIRLOCK_PORT", "9123")
    assert load_airlock_settings(load_settings()).port == 9123
    assert load_workspace_settings().airlock_port == 9123
    # The browser test's override still works.
    assert load_workspace_settings(airlock_port=9200).airlock_port == 9200
