"""The query parameters each /api GET view reads, found in its source (and the helpers it
calls), so a new parameter is fuzzed without anyone listing it."""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Iterator
from types import FunctionType, ModuleType
from typing import Any

# Helpers that read fixed parameters by themselves.
IMPLIED = {"page_params": {"page", "size"}}
QUERY_NAMES = {"query", "q", "params"}  # request.query / ctx.request.query aliases
PARAM_HELPERS = {"int_param", "day_param", "query_id"}


def _is_query(node: ast.AST) -> bool:
    if isinstance(node, ast.Attribute):
        return node.attr == "query"
    return isinstance(node, ast.Name) and node.id in QUERY_NAMES


def _is_text(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _looped_names(node: ast.For) -> Iterator[str]:
    """`for name, op in (("added_from", "gte"), ...)`: names handed to a helper by variable."""
    if isinstance(node.iter, ast.Tuple | ast.List):
        for item in node.iter.elts:
            first = item.elts[0] if isinstance(item, ast.Tuple) and item.elts else item
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                yield first.value


def _names_read(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.For):
            yield from _looped_names(node)
        if isinstance(node, ast.Subscript) and _is_query(node.value) and _is_text(node.slice):
            yield str(node.slice.value)  # type: ignore[attr-defined]
        if not isinstance(node, ast.Call):
            continue
        func, args = node.func, node.args
        getter = isinstance(func, ast.Attribute) and func.attr in ("get", "getall", "getone")
        if getter and _is_query(func.value) and args and _is_text(args[0]):  # type: ignore[attr-defined]
            yield str(args[0].value)  # type: ignore[attr-defined]
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        if name in PARAM_HELPERS and len(args) > 1 and isinstance(args[1], ast.Constant):
            yield str(args[1].value)
        yield from IMPLIED.get(name, ())


def _callees(tree: ast.AST, module: ModuleType) -> Iterator[Callable[..., Any]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else None
            if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
                owner = getattr(module, node.func.value.id, None)
                if isinstance(owner, ModuleType):
                    found = getattr(owner, node.func.attr, None)
                    if isinstance(found, FunctionType):
                        yield found
            found = getattr(module, name, None) if name else None
            if isinstance(found, FunctionType):
                yield found


def query_params(view: Callable[..., Any]) -> set[str]:
    """Every literal query parameter name the view or a project function it calls reads."""
    seen: set[Callable[..., Any]] = set()
    found: set[str] = set()
    todo = [inspect.unwrap(view)]
    while todo:
        fn = todo.pop()
        if fn in seen or not fn.__module__.startswith(("handlers", "bot")):
            continue
        seen.add(fn)
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
        except (OSError, TypeError):
            continue
        found.update(_names_read(tree))
        todo.extend(_callees(tree, inspect.getmodule(fn)))  # type: ignore[arg-type]
    return found
