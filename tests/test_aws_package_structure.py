"""The AWS backend is one package: only `tollcli.backends.aws` imports boto3/botocore/PyAthena (read from
the sources' import statements, top-level and deferred alike), and the Lambda zip holds what the handler
loads. That no module imports itself back, here or anywhere, is tests/test_package_layout.py's check."""

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


def test_the_lambda_zip_holds_exactly_the_modules_the_handler_loads() -> None:
    """The package builder's module list (read from the sources) against what a fresh interpreter
    really loads when Lambda imports the handler: nothing missing, and no CLI or local backend."""
    import json
    import os
    import subprocess
    import sys

    from tollcli.backends.aws.lambda_package import HANDLER, package_sources

    script = (
        "import importlib, json, sys\n"
        f"importlib.import_module({HANDLER.rsplit('.', 1)[0]!r})\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'tollcli')))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(PACKAGE.parent)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60, check=True)
    loaded = set(json.loads(done.stdout))
    zipped = {name.removesuffix(".py").removesuffix("/__init__").replace("/", ".") for name, _path in package_sources()}
    assert zipped == loaded
    assert not any(m.startswith(("tollcli.cli", "tollcli.backends.local")) for m in zipped)
