"""Dependencies point one way: the imports of every module (read with `ast`, lazy ones inside functions
included) follow docs/ARCHITECTURE.md's layers: pages → ui → core, and inside core from the command lines
down to the base; no import cycle; core never imports streamlit. The layers are read from the document
itself, so the map and the code cannot drift apart: a new module needs its line there."""

from __future__ import annotations

import ast
import functools
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = Path("docs") / "ARCHITECTURE.md"
TIERS = ("core", "ui", "pages")  # bottom to top; app.py is listed with the pages
# a layer heading ("### core 2 · pieces", "### ui") and a module's line ("- `core/data.py` — …")
HEADING = re.compile(r"^### (core|ui|pages)\b(?: (\d+))?")
MODULE_LINE = re.compile(r"^- `([\w/]+\.py)`")


def module_name(path: str) -> str:
    """core/data.py → core.data; ui/__init__.py → ui; app.py → app."""
    parts = path.removesuffix(".py").split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def documented_layers(root: Path) -> dict[str, tuple[int, int]]:
    """Each module the document lists: (tier, layer), tiers pages > ui > core, core's layers numbered up."""
    layers: dict[str, tuple[int, int]] = {}
    where = None
    for line in (root / DOC).read_text().splitlines():
        if heading := HEADING.match(line):
            where = (TIERS.index(heading[1]), int(heading[2] or 0))
        elif (listed := MODULE_LINE.match(line)) and where is not None:
            assert module_name(listed[1]) not in layers, f"{listed[1]} is listed twice in {DOC}"
            layers[module_name(listed[1])] = where
    return layers


@functools.cache
def parsed(path: Path) -> ast.Module:
    """Each file parsed once per test session (the checks below read every module)."""
    return ast.parse(path.read_text())


def has_code(path: Path) -> bool:
    """More than a docstring (core/__init__.py has only its docstring: nothing to import)."""
    body = parsed(path).body
    docstring = body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
    return len(body) > (1 if docstring else 0)


def source_modules(root: Path) -> dict[str, Path]:
    """Every module of the app: app.py, pages/, ui/, core/ (those with code)."""
    paths = [root / "app.py", *sorted((root / "pages").glob("*.py"))]
    paths += [*sorted((root / "ui").glob("*.py")), *sorted((root / "core").glob("*.py"))]
    return {module_name(p.relative_to(root).as_posix()): p for p in paths if has_code(p)}


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules `path` imports anywhere in it (top level, in functions, under TYPE_CHECKING)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(parsed(path)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
            base = (f"{base}.{node.module}" if node.module else base) if node.level else node.module
            # `from core import jobs` imports the module core.jobs; `from core.data import x` core.data
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


@functools.cache
def graph(root: Path) -> dict[str, set[str]]:
    modules = source_modules(root)
    return {name: imports(name, path, set(modules)) for name, path in modules.items()}


def cycles(arrows: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each strongly connected group of modules (Tarjan), as a path that closes."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(arrows.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while (w := stack.pop()) != v:
                group.add(w)
            groups.append(group | {v})

    for v in sorted(arrows):
        if v not in index:
            visit(v)
    found = []
    for group in groups:
        start = min(group)
        if len(group) == 1 and start not in arrows.get(start, ()):
            continue
        path = [start]  # walk inside the group until a module repeats
        while path.count(path[-1]) < 2:
            path.append(min(w for w in arrows[path[-1]] if w in group))
        found.append(path[path.index(path[-1]) :])
    return found


def wrong_arrows(arrows: dict[str, set[str]], layers: dict[str, tuple[int, int]]) -> list[str]:
    """Imports that point up: a lower tier importing a higher one, or a core module importing a higher core
    layer; and the app (ui, pages) importing core's top layer, the command lines, which it runs as
    processes instead."""
    top = max(layer for tier, layer in layers.values() if tier == 0)
    bad = []
    for source, targets in sorted(arrows.items()):
        for target in sorted(t for t in targets if {source, t} <= set(layers)):  # unlisted: the test above
            (tier, layer), (to_tier, to_layer) = layers[source], layers[target]
            if to_tier > tier or (tier == to_tier == 0 and to_layer > layer):
                bad.append(f"{source} → {target}")
            elif tier > 0 and to_tier == 0 and to_layer == top:
                bad.append(f"{source} → {target} (a command line)")
    return bad


def streamlit_in_core(root: Path) -> list[str]:
    bad = []
    for path in sorted((root / "core").glob("*.py")):
        for node in ast.walk(parsed(path)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            bad += [f"{path.name}: {n}" for n in names if n.split(".")[0].startswith("streamlit")]
    return bad


def test_every_module_has_its_line_in_the_architecture_document():
    layers, modules = documented_layers(ROOT), source_modules(ROOT)
    assert sorted(set(modules) - set(layers)) == [], f"add a line for each to {DOC}, under its layer"
    assert sorted(set(layers) - set(modules)) == [], f"{DOC} lists modules that do not exist"


def test_there_is_no_import_cycle():
    assert cycles(graph(ROOT)) == []


def test_every_import_points_down_the_documented_layers():
    assert wrong_arrows(graph(ROOT), documented_layers(ROOT)) == []


def test_core_never_imports_streamlit():
    assert streamlit_in_core(ROOT) == []


@pytest.mark.slow  # a fresh interpreter importing torch
def test_importing_all_of_core_loads_no_streamlit():
    """Nor through another package: importing every core module loads no streamlit."""
    names = ", ".join(n for n in source_modules(ROOT) if n.startswith("core."))
    code = f"import sys, {names}; sys.exit('streamlit' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_the_checks_find_a_cycle_an_upward_arrow_and_streamlit_in_core(tmp_path):
    """A small made-up app with each fault: the checks above can fail."""
    (tmp_path / "docs").mkdir()
    (tmp_path / DOC).write_text(
        "### pages\n- `app.py` — a\n### ui\n- `ui/view.py` — v\n"
        "### core 1 · base\n- `core/a.py` — a\n- `core/b.py` — b\n### core 2 · top\n- `core/cli.py` — c\n"
    )
    for folder in ("pages", "ui", "core"):
        (tmp_path / folder).mkdir()
    files = {
        "app.py": "from ui import view\n",
        "ui/view.py": "def f():\n    from core.cli import main\n",  # lazy, and a command line
        "core/a.py": "from . import b\nimport streamlit as st\n",
        "core/b.py": "def g():\n    from .a import x\n    from core.cli import y\n",
        "core/cli.py": "from ui.view import f\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    arrows = graph(tmp_path)
    assert arrows["app"] == {"ui.view"} and arrows["core.b"] == {"core.a", "core.cli"}
    assert sorted(cycles(arrows)) == [["core.a", "core.b", "core.a"], ["core.cli", "ui.view", "core.cli"]]
    assert wrong_arrows(arrows, documented_layers(tmp_path)) == [
        "core.b → core.cli",
        "core.cli → ui.view",
        "ui.view → core.cli (a command line)",
    ]
    assert streamlit_in_core(tmp_path) == ["a.py: streamlit"]
