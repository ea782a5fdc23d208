"""Typed aiohttp app keys (named *_KEY so a function of the same name cannot shadow them)."""

from __future__ import annotations

from aiohttp import web

from bot.deps import Deps

DEPS_KEY = web.AppKey("deps", Deps)
