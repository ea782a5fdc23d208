from pathlib import Path

import pytest

from bot.settings import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_example_config_loads() -> None:
    s = load_settings(ROOT / "config.example.toml", environ={})
    assert s.server.port == 8080 and s.corp.timezone == "Asia/Shanghai"


def test_env_overrides_toml(tmp_path: Path) -> None:
    env = {"SCRMBOT_SERVER__PORT": "9000", "SCRMBOT_SECURITY__SUPER_ADMINS": "[a,b]"}
    s = load_settings(ROOT / "config.example.toml", environ=env)
    assert s.server.port == 9000 and s.security.super_admins == ["a", "b"]


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"SCRMBOT_SERVER__PORT": "70000"}, "[server.port]"),
        (
            {"SCRMBOT_WECOM__ENCODING_AES_KEY": "short"},
            "[wecom.encoding_aes_key] must be the 43-character",
        ),
        ({"SCRMBOT_SECURITY__SECRET": "x"}, "[security.secret] must be at least 32"),
        ({"SCRMBOT_CORP__TIMEZONE": "Mars/Base"}, "[corp.timezone]"),
        ({"SCRMBOT_DATABASE__URL": "mysql://x"}, "[database.url]"),
        ({"SCRMBOT_SERVER__PROT": "1"}, "[server.prot] unknown setting"),
    ],
)
def test_bad_config_names_key_and_fix(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(None, environ=env)
    assert needle in str(err.value)
    assert "SCRMBOT_" in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_cli_refuses_bad_config_with_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    monkeypatch.setenv("SCRMBOT_SERVER__PORT", "not-a-port")
    with pytest.raises(SystemExit) as exit_info:
        main(["serve"])
    assert exit_info.value.code == 2
    assert "[server.port]" in capsys.readouterr().err
