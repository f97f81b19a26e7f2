"""The AWS backend is one package: only `tollcli.backends.aws` imports boto3/botocore/PyAthena, and its
modules import one another without cycles (read from the sources' import statements, top-level and
deferred alike)."""

from __future__ import annotations

import ast
from pathlib import Path

import tollcli

PACKAGE = Path(tollcli.__file__).resolve().parent
AWS_LIBRARIES = {"boto3", "botocore", "pyathena"}


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_only_the_aws_package_imports_the_aws_libraries() -> None:
    outside = {
        module_name(path): sorted(m for m in imports_of(path) if m.split(".")[0] in AWS_LIBRARIES)
        for path in PACKAGE.rglob("*.py")
        if "backends/aws" not in path.as_posix()
    }
    assert {name: found for name, found in outside.items() if found} == {}
    inside = [p for p in (PACKAGE / "backends" / "aws").glob("*.py") if imports_of(p) & {"boto3", "botocore"}]
    assert inside  # the check reads real imports


def test_the_aws_modules_import_one_another_without_cycles() -> None:
    modules = {module_name(p): p for p in (PACKAGE / "backends" / "aws").glob("*.py")}
    graph = {
        name: {m for m in imports_of(path) if m in modules and m != name and m != "tollcli.backends.aws"}
        for name, path in modules.items()
        if name != "tollcli.backends.aws"  # the package's lazy AwsBackend export
    }
    assert graph["tollcli.backends.aws.stack"] >= {"tollcli.backends.aws.anomaly", "tollcli.backends.aws.quicksight"}
    visiting: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> None:
        assert name not in visiting, f"import cycle: {' -> '.join([*visiting[visiting.index(name) :], name])}"
        if name in done:
            return
        visiting.append(name)
        for other in sorted(graph.get(name, ())):
            visit(other)
        visiting.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)
