"""The core (`bot/`, the sandbox aside) names no feature: no import of a feature's handlers or
storage, no feature's name in its code. Only `bot/runtime.py` reads the one list of routers."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from handlers import FEATURE_ROUTERS

BOT = Path(__file__).resolve().parents[2] / "bot"
CORE_STORAGE = {"storage.core", "storage.db", "storage.migrate", "storage.sql"}


def _core_files() -> list[Path]:
    return [p for p in BOT.rglob("*.py") if "sandbox" not in p.relative_to(BOT).parts]


def _imports(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_core_imports_no_feature_module() -> None:
    for path in _core_files():
        for module in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if module == "handlers" or module.startswith("handlers."):
                assert path.name == "runtime.py" and module in ("handlers", "handlers.system")
            if module.startswith("storage.") and module.count(".") == 1:
                assert module in CORE_STORAGE or not any(
                    module == f"storage.{r.name}" for r in FEATURE_ROUTERS
                ), f"{path.name} imports {module}"


def test_core_code_names_no_feature() -> None:
    names = {r.name for r in FEATURE_ROUTERS} - {"facts", "welcome"}  # also plain words
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, sorted(names))) + r")\b", re.I)
    for path in _core_files():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            hit = pattern.search(line.split("#")[0])
            assert hit is None, f"bot/{path.relative_to(BOT)}:{number} names {hit and hit[0]}"
    assert "full_sync" not in "".join(p.read_text(encoding="utf-8") for p in _core_files())
