"""The anomaly app's Lambda deployment package, built by `toll deploy` itself.

The function runs the same anomaly core as the local backend, so the zip holds our own package
(`tollcli/`, without the CLI) plus the native wheels the core needs, fetched by pip for the
function's platform (Lambda python3.12 on Amazon Linux 2023, glibc 2.34):

    pip download --only-binary=:all: --platform manylinux_2_34_x86_64 ... --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 --python-version 3.12 --implementation cp --no-deps \
        krcf==0.4.0 numpy==2.4.6 -d <cache>

Every manylinux tag the runtime's glibc can load is passed, because pip does not widen a tag to
older ones (numpy <= 2.2 ships cp312 wheels tagged `manylinux_2_17`/`manylinux2014` only). The
function's numpy is pinned here, to the version its tests run with, never read from the user's own
install: `toll deploy` from Python 3.10 (numpy <= 2.2 locally) uploads the same package as from 3.12.

The wheels are unzipped into the package root. If pip cannot fetch them we raise `TollError`
before anything is created, rather than deploy a function that fails on its first import.
Wheels and built zips are cached (under the home by default); a zip's name carries a digest of
everything in it, so a changed source file builds a new one and an unchanged one is reused.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tollcli.errors import TollError, UsageError

LAMBDA_RUNTIME = "python3.12"
LAMBDA_PYTHON = "3.12"
HANDLER = "tollcli.backends.aws.lambda_handler.handler"
RUNTIME_GLIBC = (2, 34)  # Amazon Linux 2023, under Lambda's python3.12 runtime
MACHINES = {"x86_64": "x86_64", "arm64": "aarch64"}  # Lambda architecture -> wheel machine name
KRCF_REQUIREMENT = "krcf==0.4.0"
# The numpy the function runs with: the version the test suite runs the packaged handler with
# (tests/test_aws_anomaly_deploy.py), with cp310-cp313 wheels for both architectures.
NUMPY_REQUIREMENT = "numpy==2.4.6"
FUNCTION_REQUIREMENTS = (KRCF_REQUIREMENT, NUMPY_REQUIREMENT)


def platform_tags(architecture: str) -> tuple[str, ...]:
    """Every manylinux tag the runtime's glibc can load, newest first (PEP 600, plus the PEP 599 alias)."""
    machine = MACHINES[architecture]
    major, newest = RUNTIME_GLIBC
    return (*(f"manylinux_{major}_{minor}_{machine}" for minor in range(newest, 16, -1)), f"manylinux2014_{machine}")


PLATFORMS = {architecture: platform_tags(architecture) for architecture in MACHINES}
ZIP_EPOCH = (2020, 1, 1, 0, 0, 0)  # fixed timestamps: the same inputs give the same bytes

Runner = Callable[..., subprocess.CompletedProcess[str]]


@dataclass(frozen=True)
class LambdaPackage:
    path: Path
    sha256: str  # base64, as Lambda reports CodeSha256
    size: int
    python_version: str
    architecture: str
    wheels: tuple[str, ...]

    def read(self) -> bytes:
        return self.path.read_bytes()


def runtime_requirements() -> tuple[str, ...]:
    """The function's own pins (never the local numpy: see the module docstring)."""
    return FUNCTION_REQUIREMENTS


def python_tag(python_version: str) -> str:
    return "cp" + python_version.replace(".", "")


def cached_wheel(cache: Path, requirement: str) -> Path | None:
    """A wheel already in `cache` that satisfies an exact `name==version` pin."""
    name, _, version = requirement.partition("==")
    stem = f"{name.replace('-', '_')}-{version}-"
    matches = sorted(p for p in cache.glob("*.whl") if p.name.lower().startswith(stem.lower()))
    return matches[0] if matches else None


def fetch_wheels(
    requirements: Sequence[str],
    *,
    cache: Path,
    python_version: str = LAMBDA_PYTHON,
    architecture: str = "x86_64",
    run: Runner = subprocess.run,
) -> list[Path]:
    """Binary wheels for the function's platform, from the cache or with `pip download`."""
    if architecture not in PLATFORMS:
        raise UsageError(f"unknown Lambda architecture {architecture!r}: choose one of {', '.join(PLATFORMS)}")
    cache.mkdir(parents=True, exist_ok=True)
    missing = [r for r in requirements if cached_wheel(cache, r) is None]
    if missing:
        platforms = PLATFORMS[architecture]
        platform = f"manylinux_{RUNTIME_GLIBC[0]}_{RUNTIME_GLIBC[1]}-compatible {MACHINES[architecture]}"
        command = [
            sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
            "--only-binary=:all:", "--no-deps", *(part for tag in platforms for part in ("--platform", tag)),
            "--python-version", python_version, "--implementation", "cp", "--dest", str(cache), *missing,
        ]  # fmt: skip
        try:
            done = run(command, capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise TollError(f"could not run pip to fetch {', '.join(missing)} for Lambda: {exc}") from None
        still_missing = [r for r in missing if cached_wheel(cache, r) is None]
        if done.returncode != 0 or still_missing:
            lines = [line.strip() for line in (done.stderr or "").splitlines() if line.strip()]
            errors = [line for line in lines if line.startswith("ERROR")]
            reason = (errors or lines or ["no matching wheel"])[-1]
            raise TollError(
                f"could not fetch a {platform} wheel for Python {python_version} of "
                f"{', '.join(still_missing or missing)} (needed by the Lambda function): {reason}; "
                "nothing was deployed. Check that PyPI is reachable (pip's index settings apply) and try again"
            )
    return [p for r in requirements if (p := cached_wheel(cache, r)) is not None]


def _module_path(root: Path, module: str) -> Path | None:
    """The source file of `tollcli.x.y` under `root` (tollcli/), or None when it is not ours."""
    parts = module.split(".")[1:]
    for candidate in (root.joinpath(*parts).with_suffix(".py"), root.joinpath(*parts, "__init__.py")):
        if parts and candidate.is_file():
            return candidate
    return (root / "__init__.py") if not parts else None


def _imported_modules(path: Path) -> set[str]:
    """The `tollcli...` modules a source file imports when it is loaded: module-level imports (in
    `if`/`try` blocks too), not those inside functions (in the modules the function loads, those
    only pick a backend for the CLI) nor `if TYPE_CHECKING:` ones."""
    found: set[str] = set()
    nodes: list[ast.AST] = list(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)).body)
    while nodes:
        node = nodes.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            nodes.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "tollcli")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.split(".")[0] == "tollcli":
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)  # `from pkg import module`
        else:
            nodes.extend(ast.iter_child_nodes(node))
    return found


def package_sources() -> list[tuple[str, Path]]:
    """(archive name, file) for exactly the modules of our package the function imports: the
    handler's import closure read from the sources, with each module's parent packages. The CLI,
    the local backend and their dependencies stay out; the test that runs the packaged handler in
    a clean environment proves nothing it needs is missing."""
    root = Path(__file__).resolve().parents[2]  # tollcli/ (this file is tollcli/backends/aws/)
    wanted: set[Path] = set()
    pending = [HANDLER.rsplit(".", 1)[0]]
    while pending:
        module = pending.pop()
        path = _module_path(root, module)
        if path is None or path in wanted:
            continue
        wanted.add(path)
        parts = module.split(".")
        pending.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # parent packages run first
        pending.extend(_imported_modules(path))
    return sorted((f"tollcli/{path.relative_to(root).as_posix()}", path) for path in wanted)


def _write(archive: zipfile.ZipFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (0o100000 | mode) << 16
    archive.writestr(info, data)


def build_lambda_package(
    cache: Path,
    *,
    python_version: str = LAMBDA_PYTHON,
    architecture: str = "x86_64",
    requirements: Sequence[str] | None = None,
    run: Runner = subprocess.run,
) -> LambdaPackage:
    """The deployment zip (cached under `cache`): our code plus the unzipped native wheels."""
    wanted = tuple(requirements if requirements is not None else runtime_requirements())
    wheels = fetch_wheels(
        wanted, cache=cache / "wheels" / f"{python_tag(python_version)}-{architecture}",
        python_version=python_version, architecture=architecture, run=run,
    )  # fmt: skip
    sources = package_sources()
    digest = hashlib.sha256()
    for name, path in sources:
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    for wheel in wheels:
        digest.update(wheel.name.encode() + b"\0")
    target = cache / "lambda" / f"toll-anomaly-{python_tag(python_version)}-{architecture}-{digest.hexdigest()[:16]}.zip"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".zip.{os.getpid()}.partial")  # two builders never share one
        with zipfile.ZipFile(partial, "w") as archive:
            for name, path in sources:
                _write(archive, name, path.read_bytes())
            for wheel in wheels:
                with zipfile.ZipFile(wheel) as unpacked:
                    for info in sorted(unpacked.infolist(), key=lambda i: i.filename):
                        if info.is_dir():
                            continue
                        mode = (info.external_attr >> 16) & 0o777 or 0o644
                        _write(archive, info.filename, unpacked.read(info), mode)
        partial.replace(target)
    data = target.read_bytes()
    return LambdaPackage(
        path=target,
        sha256=base64.b64encode(hashlib.sha256(data).digest()).decode(),
        size=len(data),
        python_version=python_version,
        architecture=architecture,
        wheels=tuple(w.name for w in wheels),
    )
