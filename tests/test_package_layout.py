"""The layout a newcomer relies on (issue 19), read from the sources' import statements.

- each backend is one package: only `tollcli.backends` (`open_backend`) reaches into
  `backends/local/` or `backends/aws/`; the shared layer and the CLI import the interface alone
  (`backends/base.py`, the report types in `backends/reports.py`);
- no module imports another that (directly or not) imports it back, counting imports at the top,
  inside functions and under `TYPE_CHECKING` alike;
- an import inside a function says why it is there (a comment on it, or just above it): a lazy
  import is kept only where it measurably speeds a command up.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import tollcli

PACKAGE = Path(tollcli.__file__).resolve().parent
BACKEND_PACKAGES = ("tollcli.backends.local", "tollcli.backends.aws")
INTERFACE = {"tollcli.backends", "tollcli.backends.base", "tollcli.backends.reports"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported_modules(module: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """The tollcli modules one import statement loads (`from a import b` loads `a.b` when that is a module)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names if alias.name in MODULES)
        return
    base = node.module or ""
    if node.level:
        package = module.split(".")
        if MODULES[module].name != "__init__.py":
            package = package[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, base] if base else package)
    if base in MODULES:
        yield base
    yield from (f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES)


def imports_of(module: str) -> dict[str, list[int]]:
    """Every tollcli module `module` imports, anywhere in it, with the lines that import it."""
    found: dict[str, list[int]] = {}
    for node in ast.walk(ast.parse(MODULES[module].read_text(encoding="utf-8"))):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for other in imported_modules(module, node):
                if other != module:
                    found.setdefault(other, []).append(node.lineno)
    return found


GRAPH = {module: imports_of(module) for module in MODULES}


def test_the_graph_reads_real_imports() -> None:
    """The checks below could pass by seeing nothing: known edges must be there."""
    assert "tollcli.backends.base" in GRAPH["tollcli.questions"]
    assert "tollcli.backends.local.engine" in GRAPH["tollcli.backends.local.compact"]
    assert "tollcli.backends.local" in GRAPH["tollcli.backends"]  # open_backend's choice
    assert "tollcli.backends.aws.client" in GRAPH["tollcli.backends.aws.backend"]
    assert len(MODULES) > 50


@pytest.mark.parametrize("package", BACKEND_PACKAGES)
def test_only_open_backend_reaches_into_a_backend_package(package: str) -> None:
    outside = {
        module: sorted(other for other in imports if other == package or other.startswith(package + "."))
        for module, imports in GRAPH.items()
        if module != "tollcli.backends" and not (module == package or module.startswith(package + "."))
    }
    assert {module: found for module, found in outside.items() if found} == {}


def test_the_shared_layer_imports_only_the_backend_interface() -> None:
    shared = [m for m in MODULES if not m.startswith(("tollcli.backends.", "tollcli.backends"))]
    reaching = {
        module: sorted(other for other in GRAPH[module] if other.startswith("tollcli.backends") and other not in INTERFACE)
        for module in shared
    }
    assert {module: found for module, found in reaching.items() if found} == {}
    assert any("tollcli.backends.base" in GRAPH[module] for module in shared)  # they do use the interface


def test_the_interface_module_holds_the_interface_alone() -> None:
    """`backends/base.py` defines the abstract classes and the capabilities; report types live beside it."""
    tree = ast.parse(MODULES["tollcli.backends.base"].read_text(encoding="utf-8"))
    classes = {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
    assert classes == {"Backend", "RecordSink", "AnomalyFeed", "Capabilities"}
    assert not GRAPH["tollcli.backends.base"].keys() & {"tollcli.backends.local", "tollcli.backends.aws"}


def test_no_module_imports_itself_back() -> None:
    visiting: list[str] = []
    done: set[str] = set()

    def visit(module: str) -> None:
        assert module not in visiting, f"import cycle: {' -> '.join([*visiting[visiting.index(module) :], module])}"
        if module in done:
            return
        visiting.append(module)
        for other in sorted(GRAPH[module]):
            if not module.startswith(other + "."):  # a package's own __init__ runs first: not a cycle
                visit(other)
        visiting.pop()
        done.add(module)

    for module in sorted(GRAPH):
        visit(module)


def deferred_imports(path: Path) -> Iterator[tuple[int, str, bool]]:
    """(line, text, explained) of every import inside a function; one comment may explain a group
    of imports that follow one another (on the first of them, or on the line above the group)."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    for function in ast.walk(ast.parse(source)):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        nodes = [node for node in ast.walk(function) if isinstance(node, (ast.Import, ast.ImportFrom))]
        import_lines = {number for node in nodes for number in range(node.lineno, (node.end_lineno or node.lineno) + 1)}
        for node in nodes:
            statement = lines[node.lineno - 1 : node.end_lineno]
            explained = any("#" in line for line in statement)
            number = node.lineno - 1  # walk up through the group: imports, blank lines, comments
            while not explained and number >= 1:
                text = lines[number - 1].strip()
                if text.startswith("#") or (number in import_lines and "#" in lines[number - 1]):
                    explained = True
                elif not (number in import_lines or not text):
                    break
                number -= 1
            yield node.lineno, " ".join(line.strip() for line in statement), explained


def test_every_import_inside_a_function_says_why() -> None:
    unexplained = [
        f"{MODULES[module].relative_to(PACKAGE.parent)}:{line}: {text}"
        for module in MODULES
        for line, text, explained in deferred_imports(MODULES[module])
        if not explained
    ]
    assert unexplained == []


@pytest.mark.parametrize("backend_name", ["local", "aws"])
def test_each_backend_declares_the_optional_methods_it_has(backend_name: str) -> None:
    """`capabilities` is what callers ask: it must agree with what the class really implements."""
    from tollcli.backends.base import Backend

    if backend_name == "local":
        from tollcli.backends.local import LocalBackend as chosen
    else:
        from tollcli.backends.aws import AwsBackend as chosen
    capabilities = chosen.capabilities
    assert capabilities.compact == (chosen.compact is not Backend.compact)
    assert capabilities.quicksight == (chosen.publish_quicksight is not Backend.publish_quicksight)
    assert chosen.capabilities is not Backend.capabilities  # declared, not inherited by accident
