"""The write-path redesign's layering rules (issue #10), read from the source with ``ast``.

- storage implements the ``Journal`` port and imports neither ``Index`` nor ``Client`` (nor the
  server), and no module that storage imports at load time imports storage back: no cycle;
- storage touches no private attribute of ``Index`` or ``Client``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "toolkit"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in ROOT.rglob("*.py")}


def _imports(name: str, top_level_only: bool) -> set[str]:
    """The toolkit modules ``name`` imports (every import, or only those run when it loads)."""
    path = MODULES[name]
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    nodes = list(_load_time(tree.body)) if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        found.update(t for t in targets if t in MODULES)
    return found


def _load_time(statements: list[ast.stmt]):
    """The statements that run when a module loads: its body, into ``if``/``try``/``with`` blocks and
    class bodies, but not into functions."""
    for node in statements:
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for field in ("body", "orelse", "finalbody", "handlers"):
            inner = getattr(node, field, None)
            if isinstance(inner, list):
                yield from _load_time([n for n in inner if isinstance(n, ast.stmt)] +
                                      [s for h in inner if isinstance(h, ast.ExceptHandler) for s in h.body])


def _storage_modules() -> list[str]:
    return sorted(m for m in MODULES if m == "toolkit.storage" or m.startswith("toolkit.storage."))


def test_storage_imports_neither_the_index_nor_the_client_nor_the_server():
    forbidden = {"toolkit.index", "toolkit.client", "toolkit.index_ops"}
    for module in _storage_modules():
        bad = {m for m in _imports(module, top_level_only=False)
               if m in forbidden or m.startswith("toolkit.server")}
        assert not bad, f"{module} imports {sorted(bad)}"


def test_no_module_storage_loads_imports_storage_back():
    storage = set(_storage_modules())
    seen: set[str] = set()
    todo = [m for s in storage for m in _imports(s, top_level_only=True) if m not in storage]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        back = {m for m in _imports(module, top_level_only=True) if m in storage}
        assert not back, f"{module} (loaded by storage) imports {sorted(back)}: a cycle"
        todo.extend(_imports(module, top_level_only=True) - storage)
    assert "toolkit.journal" in seen  # the port storage implements


def _private_attributes(module: str) -> set[str]:
    """Names ``self._x`` is assigned to anywhere in ``module`` (its classes' private state)."""
    names = set()
    for node in ast.walk(ast.parse(MODULES[module].read_text())):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) \
                and isinstance(node.value, ast.Name) and node.value.id == "self" and node.attr.startswith("_") \
                and not node.attr.startswith("__"):
            names.add(node.attr)
    return names


def test_storage_touches_no_private_attribute_of_index_or_client():
    private = _private_attributes("toolkit.index") | _private_attributes("toolkit.client")
    assert {"_shard", "_ops"} <= private  # the scan finds them
    for module in _storage_modules():
        for node in ast.walk(ast.parse(MODULES[module].read_text())):
            if isinstance(node, ast.Attribute) and node.attr in private:
                owner = node.value
                if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                    continue  # storage's own attribute that happens to share the name
                raise AssertionError(f"{module}:{node.lineno} reads .{node.attr} of another object")
