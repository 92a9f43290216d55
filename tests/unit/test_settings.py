"""Settings: documented defaults, TRE_ overrides, production safety, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tre.settings import (
    Settings,
    SettingsError,
    get_settings,
    load_settings,
    reset_settings,
)

pytestmark = pytest.mark.unit


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("TRE_ENVIRONMENT")  # the test suite sets development explicitly
    settings = get_settings()
    assert settings.data_dir == tmp_path / "xdg" / "tre"
    assert settings.database_url == f"sqlite:///{tmp_path / 'xdg' / 'tre' / 'tre.db'}"
    assert settings.profile == "default"
    assert settings.log_level == "INFO"
    assert settings.max_upload_bytes == 100 * 1024 * 1024
    assert settings.max_request_bytes == 1024**3
    # A deployment that forgets TRE_ENVIRONMENT is a production one (issue 13).
    assert settings.environment == "production"
    assert settings.secret_key.get_secret_value() == ""
    assert settings.profiles_dir is not None
    assert (settings.profiles_dir / "default.yaml").is_file()


def test_data_dir_without_xdg_is_under_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_DATA_HOME")
    assert get_settings().data_dir == Path.home() / ".local" / "share" / "tre"


def test_every_setting_is_documented() -> None:
    for name, field in Settings.model_fields.items():
        assert field.description, f"setting {name} has no description"


def test_env_overrides_with_tre_prefix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TRE_DATA_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("TRE_PROFILE", "strict")
    monkeypatch.setenv("TRE_LOG_LEVEL", "debug")
    monkeypatch.setenv("TRE_MAX_UPLOAD_BYTES", "2048")
    monkeypatch.setenv("TRE_MAX_REQUEST_BYTES", "4096")
    settings = get_settings()
    assert settings.data_dir == tmp_path / "state"
    assert settings.database_url == f"sqlite:///{tmp_path / 'state' / 'tre.db'}"
    assert settings.profile == "strict"
    assert settings.log_level == "DEBUG"
    assert (settings.max_upload_bytes, settings.max_request_bytes) == (2048, 4096)


def test_unprefixed_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROFILE", "strict")
    assert get_settings().profile == "default"


def test_explicit_database_url_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRE_DATABASE_URL", "postgresql+psycopg://tre@db/tre")
    assert get_settings().database_url == "postgresql+psycopg://tre@db/tre"


def test_data_dir_expands_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRE_DATA_DIR", "~/tre-state")
    assert get_settings().data_dir == Path.home() / "tre-state"


def test_settings_are_cached_until_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    first = get_settings()
    monkeypatch.setenv("TRE_PROFILE", "strict")
    assert get_settings() is first
    reset_settings()
    assert get_settings().profile == "strict"


def test_data_dir_fixture_sets_the_variable(data_dir: Path) -> None:
    assert get_settings().data_dir == data_dir


@pytest.mark.parametrize(
    "secret", ["change-me", "changethis", "CHANGEME-but-longer-than-32-characters"])
def test_production_refuses_placeholder_secret(
    monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    monkeypatch.setenv("TRE_ENVIRONMENT", "production")
    monkeypatch.setenv("TRE_SECRET_KEY", secret)
    with pytest.raises(SettingsError, match="TRE_SECRET_KEY") as info:
        get_settings()
    assert "placeholder" in str(info.value)


def test_production_refuses_to_sign_sessions_without_a_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airlock.ui.session import secret_key

    monkeypatch.setenv("TRE_ENVIRONMENT", "production")
    settings = get_settings()  # commands that sign nothing still run without a key
    with pytest.raises(SettingsError, match=r"TRE_SECRET_KEY is not set.*openssl rand"):
        secret_key(settings)


@pytest.mark.parametrize(("secret", "why"), [
    ("a" * 32, "repeats a shorter piece"),
    ("changeme" * 4, "placeholder"),
    ("0123456789" * 4, "repeats a shorter piece"),
    ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", "too little randomness"),
    ("abababababababababababababababac", "too little randomness"),
])
def test_production_refuses_weak_secrets(
    monkeypatch: pytest.MonkeyPatch, secret: str, why: str
) -> None:
    monkeypatch.setenv("TRE_ENVIRONMENT", "production")
    monkeypatch.setenv("TRE_SECRET_KEY", secret)
    with pytest.raises(SettingsError, match=f"TRE_SECRET_KEY: .*{why}") as info:
        get_settings()
    assert secret not in str(info.value)


def test_production_refuses_short_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRE_ENVIRONMENT", "production")
    monkeypatch.setenv("TRE_SECRET_KEY", "s3cret-but-short")
    with pytest.raises(SettingsError, match=r"TRE_SECRET_KEY.*too short"):
        get_settings()


def test_production_accepts_real_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "9f2c17e0b8a34d6c5e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d"
    monkeypatch.setenv("TRE_ENVIRONMENT", "production")
    monkeypatch.setenv("TRE_SECRET_KEY", secret)
    settings = get_settings()
    assert settings.environment == "production"
    assert settings.secret_key.get_secret_value() == secret


def test_secret_is_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRE_SECRET_KEY", "a-very-private-value")
    assert "a-very-private-value" not in repr(get_settings())
    monkeypatch.setenv("TRE_ENVIRONMENT", "production")
    monkeypatch.setenv("TRE_SECRET_KEY", "changeme")
    reset_settings()
    with pytest.raises(SettingsError) as info:
        get_settings()
    assert "changeme" not in str(info.value)


def test_development_accepts_placeholder_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRE_SECRET_KEY", "change-me")
    assert get_settings().secret_key.get_secret_value() == "change-me"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TRE_MAX_UPLOAD_BYTES", "lots"),
        ("TRE_MAX_UPLOAD_BYTES", "0"),
        ("TRE_MAX_REQUEST_BYTES", "-1"),
        ("TRE_ENVIRONMENT", "staging"),
        ("TRE_LOG_LEVEL", "loud"),
        ("TRE_PROFILE", ""),
    ],
)
def test_bad_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as info:
        get_settings()
    message = str(info.value)
    assert variable in message
    assert "Traceback" not in message
    assert "\n" not in message


def test_request_limit_below_file_limit_names_both(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRE_MAX_UPLOAD_BYTES", "2000")
    monkeypatch.setenv("TRE_MAX_REQUEST_BYTES", "1000")
    with pytest.raises(SettingsError, match=r"TRE_MAX_REQUEST_BYTES.*TRE_MAX_UPLOAD_BYTES"):
        get_settings()


def test_load_settings_overrides_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRE_PROFILE", "strict")
    assert load_settings(profile="custom").profile == "custom"


def test_settings_error_is_a_value_error() -> None:
    assert issubclass(SettingsError, ValueError)
