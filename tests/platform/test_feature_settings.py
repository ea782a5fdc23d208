"""A feature's own settings section: validated against the model its router registers,
unknown keys and sections named, environment variables honoured."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field

from bot.dispatcher import Dispatcher
from bot.router import RegistrationError, Router
from bot.settings import ConfigError, FeatureSection, load_settings, parse_sections
from handlers import FEATURE_ROUTERS
from handlers.radar import RadarSettings

ROOT = Path(__file__).resolve().parents[2]


class CouponSettings(FeatureSection):
    per_customer: int = Field(1, ge=1)


def _models() -> dict[str, type]:
    router = Router("coupons")
    router.settings(CouponSettings)
    return Dispatcher([router]).settings_models


def test_example_config_fits_every_feature() -> None:
    settings = load_settings(ROOT / "config.example.toml", environ={})
    models = Dispatcher(FEATURE_ROUTERS).settings_models
    parsed = parse_sections(settings, models)
    assert isinstance(parsed[RadarSettings], RadarSettings)
    assert parsed[RadarSettings].landing_per_minute == 120


def test_env_var_reaches_the_feature_section() -> None:
    settings = load_settings(None, environ={"SCRMBOT_COUPONS__PER_CUSTOMER": "3"})
    assert parse_sections(settings, _models())[CouponSettings] == CouponSettings(per_customer=3)


def test_radar_env_var_still_works() -> None:
    settings = load_settings(None, environ={"SCRMBOT_RADAR__LANDING_PER_MINUTE": "7"})
    parsed = parse_sections(settings, Dispatcher(FEATURE_ROUTERS).settings_models)
    assert parsed[RadarSettings].landing_per_minute == 7


def test_absent_section_gets_the_defaults() -> None:
    settings = load_settings(None, environ={})
    assert parse_sections(settings, _models())[CouponSettings].per_customer == 1


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"SCRMBOT_COUPONS__PER_CUSTMER": "3"}, "[coupons.per_custmer] unknown setting"),
        ({"SCRMBOT_COUPONS__PER_CUSTOMER": "0"}, "[coupons.per_customer]"),
        ({"SCRMBOT_COUPON__PER_CUSTOMER": "3"}, "unknown section [coupon]"),
    ],
)
def test_bad_feature_setting_is_named(env: dict[str, str], needle: str) -> None:
    settings = load_settings(None, environ=env)
    with pytest.raises(ConfigError) as err:
        parse_sections(settings, _models())
    assert needle in str(err.value)


def test_cli_refuses_an_unknown_radar_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    monkeypatch.setenv("SCRMBOT_RADAR__LANDING_PER_MINUT", "3")
    with pytest.raises(SystemExit) as exit_info:
        main(["serve"])
    assert exit_info.value.code == 2
    assert "[radar.landing_per_minut] unknown setting" in capsys.readouterr().err


def test_one_settings_model_per_router() -> None:
    router = Router("coupons")
    router.settings(CouponSettings)
    with pytest.raises(RegistrationError):
        router.settings(CouponSettings)
