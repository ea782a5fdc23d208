"""`scrmbot` — demo, serve, worker, migrate, check, sync."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from bot.logs import setup_logging
from bot.settings import (
    ConfigError,
    Settings,
    load_settings,
    parse_sections,
    require_real_secret,
)
from storage.db import SchemaNotReady

log = logging.getLogger("scrmbot")


# Processes that sign sessions and links; `check` reports the secret, `migrate` needs none.
_NEEDS_SECRET = frozenset({"serve", "worker", "sync"})


def _settings(args: argparse.Namespace, **overrides: dict[str, Any]) -> Settings:
    settings = load_settings(args.config, overrides=overrides or None)
    check_feature_sections(settings)
    setup_logging(settings.logging.level, settings.logging.json_format)
    if args.command in _NEEDS_SECRET:
        require_real_secret(settings)
    return settings


def check_feature_sections(settings: Settings) -> None:
    """The features' own sections against the models their routers register, so a
    bad key stops every command at once (the Runtime checks again for library use)."""
    from bot.runtime import default_routers

    models = {r.name: r.settings_model for r in default_routers() if r.settings_model}
    parse_sections(settings, models)


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def _serve(settings: Settings) -> None:
    from aiohttp import web

    from bot.web import create_app, settled

    app = create_app(settings, migrate=False)
    app.on_startup.append(settled)
    runner = web.AppRunner(app, shutdown_timeout=settings.server.shutdown_timeout)
    await runner.setup()
    await web.TCPSite(runner, settings.server.host, settings.server.port).start()
    log.info("serving on %s", settings.base_url)
    try:
        await _until_signalled()
    finally:
        await runner.cleanup()  # stops accepting, finishes in-flight requests, closes pools


async def _worker(settings: Settings) -> None:
    from jobs.runner import run_worker

    await run_worker(settings)


async def _migrate(settings: Settings) -> None:
    from storage.migrate import migrate

    await migrate(settings.database.url)


async def _check(settings: Settings) -> None:
    from bot.check import run_checks

    ok = await run_checks(settings)
    if not ok:
        raise SystemExit(1)


async def _sync(settings: Settings) -> None:
    from bot.runtime import Runtime

    async with Runtime(settings) as rt:
        hooks = rt.deps.dispatcher.hooks("sync")
        if not hooks:
            raise SystemExit("no feature has a sync hook")
        for name, hook in hooks:
            result = await hook(rt.deps)
            log.info("sync of %s finished: %s", name, result)


async def _menu(settings: Settings) -> None:
    import json

    from bot.conversation import publish_menu
    from bot.runtime import Runtime

    async with Runtime(settings, create_schema=False) as rt:
        menu = await publish_menu(rt.deps)
    print(json.dumps(menu, ensure_ascii=False, indent=1))  # noqa: T201


async def _demo(settings: Settings, args: argparse.Namespace) -> None:
    from bot.demo import run_demo

    await run_demo(settings, port=args.port, sandbox_port=args.sandbox_port)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="scrmbot", description="WeCom growth service")
    parser.add_argument("--config", help="TOML config file (see config.example.toml)")
    # --config is also accepted after the sub-command (`scrmbot serve --config x.toml`).
    after = argparse.ArgumentParser(add_help=False)
    after.add_argument("--config", default=argparse.SUPPRESS, help="TOML config file")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", parents=[after], help="the whole product on this machine, against the sandbox"
    )
    demo.add_argument("--port", type=int, default=8080)
    demo.add_argument("--sandbox-port", type=int, default=0, help="default: port + 1")
    for name, text in [
        ("serve", "web process"),
        ("worker", "arq worker"),
        ("migrate", "apply database migrations"),
        ("check", "validate config and WeCom permissions"),
        ("sync", "full sync of directory, customers, groups and tags"),
        ("menu", "set the app's custom menu in WeCom from what the features register"),
    ]:
        sub.add_parser(name, parents=[after], help=text)
    args = parser.parse_args(argv)
    runners: dict[str, Callable[[Settings], Coroutine[Any, Any, None]]] = {
        "serve": _serve,
        "worker": _worker,
        "migrate": _migrate,
        "check": _check,
        "sync": _sync,
        "menu": _menu,
    }
    try:
        if args.command == "demo":
            settings = _settings(args, server={"port": args.port})
            asyncio.run(_demo(settings, args))
        else:
            asyncio.run(runners[args.command](_settings(args)))
    except (ConfigError, SchemaNotReady) as exc:
        print(f"scrmbot: {exc}", file=sys.stderr)  # noqa: T201
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
