"""`scrmbot demo`: web + worker + sandbox WeCom + SQLite + embedded Redis in one process."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from bot.conversation import publish_menu
from bot.lifecycle import settle_heap
from bot.runtime import Runtime
from bot.settings import Settings

log = logging.getLogger("scrmbot.demo")


def demo_settings(settings: Settings, port: int, sandbox_port: int) -> Settings:
    sandbox = f"http://127.0.0.1:{sandbox_port}"
    data = settings.model_dump()
    data["server"].update(
        port=port, base_url=settings.server.base_url or f"http://127.0.0.1:{port}"
    )
    data["wecom"].update(api_base=sandbox, oauth_base=sandbox, login_base=sandbox)
    if not data["wechat_mp"]["app_id"]:  # the sandbox plays the service account
        from bot.sandbox.mp import MP_APP_ID, MP_SECRET

        mp = {"app_id": MP_APP_ID, "secret": MP_SECRET, "oauth_base": sandbox, "api_base": sandbox}
        data["wechat_mp"].update(mp)
    admins = set(data["security"]["super_admins"]) | {"admin"}
    data["security"]["super_admins"] = sorted(admins)
    return Settings.model_validate(data)


async def start_sandbox(settings: Settings, port: int) -> tuple[web.AppRunner, object]:
    from bot.crypto import WeComCrypto
    from bot.sandbox.corp import Corp
    from bot.sandbox.demo import seed_demo_corp
    from bot.sandbox.server import create_sandbox_app

    wc = settings.wecom
    corp = seed_demo_corp(Corp())
    app = create_sandbox_app(
        corp,
        corp_id=wc.corp_id,
        secrets={"app": wc.secret, "contact": wc.contact_secret},
        agent_id=wc.agent_id,
        callback_url=settings.base_url + "/wecom/callback",
        crypto=WeComCrypto(wc.token, wc.encoding_aes_key, wc.corp_id),
    )
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, corp


async def seed_features(rt: Runtime) -> None:
    """Every feature's sync hook (the sandbox corp into the database), then its demo seeds."""
    deps = rt.deps
    for _, hook in deps.dispatcher.hooks("sync"):
        await hook(deps)
    for name, hook in deps.dispatcher.hooks("demo"):
        try:
            await hook(deps)
        except Exception:
            log.exception("demo seed of %s failed", name)
    try:
        await publish_menu(deps)
    except Exception:
        log.exception("setting the app menu failed")


async def run_demo(settings: Settings, port: int, sandbox_port: int = 0) -> None:
    from bot.cli import _until_signalled
    from bot.web import create_app
    from jobs.worker import build_worker

    sandbox_port = sandbox_port or port + 1
    settings = demo_settings(settings, port, sandbox_port)
    sandbox_runner, _ = await start_sandbox(settings, sandbox_port)
    async with Runtime(settings) as rt:
        runner = web.AppRunner(create_app(settings, runtime=rt))
        await runner.setup()
        await web.TCPSite(runner, settings.server.host, port).start()
        worker = build_worker(rt, handle_signals=False)
        worker_task = asyncio.create_task(worker.async_run())
        await seed_features(rt)
        settle_heap()
        print_urls(settings, sandbox_port)
        try:
            await _until_signalled()
        finally:
            await worker.close()
            worker_task.cancel()
            await runner.cleanup()
            await sandbox_runner.cleanup()


def print_urls(settings: Settings, sandbox_port: int) -> None:
    base = settings.base_url
    lines = [
        "",
        "scrmbot demo is running (stop with Ctrl+C):",
        f"  admin console    {base}/admin        (log in as the demo super admin 'admin')",
        f"  sidebar          {base}/sidebar      (staff pages inside WeCom, in a normal browser)",
        f"  chat toolbar     {base}/toolbar",
        f"  sandbox WeCom    http://127.0.0.1:{sandbox_port}/sandbox   (staff inboxes, play customers)",
        f"  health           {base}/healthz  {base}/readyz  {base}/metrics",
        "",
    ]
    print("\n".join(lines), flush=True)  # noqa: T201
