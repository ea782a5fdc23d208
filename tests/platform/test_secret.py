"""The public development secret is refused outside the demo and the tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import DEV_SECRET, ConfigError, load_settings, require_real_secret, secret_problem

ROOT = Path(__file__).resolve().parents[2]
REAL = "Qm3v8K1xZp4T9wLr2Yh6Nc7Bd5Fg0Sj-aE_uXo"


@pytest.mark.parametrize("command", ["serve", "worker", "sync"])
def test_server_and_worker_refuse_the_default_secret(
    command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    monkeypatch.setenv("SCRMBOT_SERVER__BASE_URL", "https://scrm.example.com")
    monkeypatch.setenv("SCRMBOT_SECURITY__ALLOW_DEV_SECRET", "true")
    with pytest.raises(SystemExit) as exit_info:
        main(["--config", str(ROOT / "config.example.toml"), command])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "[security.secret]" in err and "secrets.token_urlsafe(32)" in err


def test_example_config_does_not_allow_the_dev_secret() -> None:
    settings = load_settings(ROOT / "config.example.toml", environ={})
    assert settings.security.allow_dev_secret is False
    assert "allow_dev_secret = true" not in (ROOT / "config.example.toml").read_text()


@pytest.mark.parametrize(
    "secret", [DEV_SECRET, "change-me-" + "x" * 30, "ab" * 20, "0123456789" * 4]
)
def test_weak_secrets_are_named(secret: str) -> None:
    settings = load_settings(None, environ={}, overrides={"security": {"secret": secret}})
    with pytest.raises(ConfigError, match=r"\[security.secret\]"):
        require_real_secret(settings)


def test_a_random_secret_passes() -> None:
    settings = load_settings(None, environ={}, overrides={"security": {"secret": REAL}})
    assert secret_problem(settings) is None
    require_real_secret(settings)


def test_dev_secret_allowed_only_on_plain_http_loopback() -> None:
    local = {"security": {"allow_dev_secret": True}, "server": {"base_url": "http://127.0.0.1:9"}}
    require_real_secret(load_settings(None, environ={}, overrides=local))
    public = {"security": {"allow_dev_secret": True}, "server": {"base_url": "http://10.1.2.3"}}
    with pytest.raises(ConfigError):
        require_real_secret(load_settings(None, environ={}, overrides=public))
