"""One loader for every settings section (tre.settings.load_section), one error format
that names the variable and never repeats a secret or a URL's credentials."""

from __future__ import annotations

from pathlib import Path

import pytest

from airlock.notify import Notifier, load_notify_settings
from tre.settings import SettingsError, load_settings, profile_file, reset_settings

pytestmark = pytest.mark.unit


def test_a_bad_notify_variable_is_a_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # Before: Notifier() built NotifySettings() unwrapped: a raw pydantic ValidationError.
    monkeypatch.setenv("TRE_NOTIFY_MAX_ATTEMPTS", "lots")
    with pytest.raises(SettingsError, match=r"^invalid settings: TRE_NOTIFY_MAX_ATTEMPTS: "
                       r"Input should be a valid integer.*got 'lots'"):
        Notifier()


def test_a_url_s_credentials_are_never_repeated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRE_NOTIFY_WEBHOOK_URLS", "ftp://hook:hunter2-secret@example.org/x")
    with pytest.raises(SettingsError) as err:
        load_notify_settings()
    assert "TRE_NOTIFY_WEBHOOK_URLS" in str(err.value)
    assert "hunter2" not in str(err.value)
    # Before: the platform's format repeated TRE_DATABASE_URL as given, password and all.
    with pytest.raises(SettingsError) as err:
        load_settings(database_url=42, max_upload_bytes="postgresql://u:pa55word@db/x")
    assert "TRE_MAX_UPLOAD_BYTES" in str(err.value) and "pa55word" not in str(err.value)


def test_a_secret_is_never_repeated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRE_NOTIFY_SMTP_PORT", "x")
    with pytest.raises(SettingsError) as err:
        load_notify_settings(webhook_secret=["not", "a", "string-s3cr3t"])
    assert "TRE_NOTIFY_WEBHOOK_SECRET" in str(err.value)
    assert "s3cr3t" not in str(err.value)
    assert "TRE_NOTIFY_SMTP_PORT" in str(err.value) and "got 'x'" in str(err.value)


def test_one_profiles_dir_lookup_takes_yml_everywhere(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Before, only `tre check` found ``name.yml``; the catalog and governance did not."""
    from tre.catalog.service import check_profile

    text = (Path(__file__).resolve().parents[2] / "policies/profiles/strict.yaml").read_text()
    (tmp_path / "local.yml").write_text(text.replace("name: strict", "name: local"))
    monkeypatch.setenv("TRE_PROFILES_DIR", str(tmp_path))
    reset_settings()
    try:
        assert profile_file("local") == tmp_path / "local.yml"
        assert profile_file("../local") is None and profile_file("nope") is None
        assert check_profile("local") == "local"
    finally:
        monkeypatch.delenv("TRE_PROFILES_DIR")
        reset_settings()
