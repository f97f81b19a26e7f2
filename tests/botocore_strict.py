"""Every AWS request a test makes, checked against botocore's service model, strictly.

moto accepts much that AWS refuses, and botocore's own client-side validator checks only types,
required members and minimums. `StrictValidator` also checks what AWS enforces server-side from
the same model: maximum lengths (strings, lists, maps, blobs), ranges, enums and patterns (Java
regular expressions, matched whole as Java's `matches` does, with the `regex` package for `\\p{L}`
and UTF-16 surrogate ranges). `install` wraps `BaseClient._make_api_call`, the one place every
boto3/botocore client in the process goes through (our AwsClient, PyAthena, moto's test clients),
so tests/conftest.py's autouse fixture fails any test whose code sends a request AWS would refuse.

Requests made by subprocesses (the CLI run against a moto server) are not seen here; the same
code paths are exercised in process by the other tests.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import regex
from botocore.client import BaseClient
from botocore.model import ListShape, MapShape, Shape, StructureShape

# Java's UTF-16 surrogate-pair range for U+10000..U+10FFFF, as Python's regex engine spells it.
_SURROGATE_RANGE = "\\uD800\\uDC00-\\uDBFF\\uDFFF"


@functools.cache
def compiled(pattern: str) -> regex.Pattern[str]:
    return regex.compile(pattern.replace(_SURROGATE_RANGE, "\\U00010000-\\U0010FFFF"))


class StrictValidator:
    """Walks parameters and their shape; `errors` lists every violation as `Operation.path: what`."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.checked = 0

    def validate(self, operation: str, shape: Shape | None, params: Any) -> list[str]:
        found: list[str] = []
        if shape is not None:
            self._check(shape, params, operation, found)
        self.checked += 1
        self.errors.extend(found)
        return found

    def _check(self, shape: Shape, value: Any, path: str, found: list[str]) -> None:
        meta = shape.metadata
        if isinstance(shape, StructureShape):
            if not isinstance(value, dict):
                return  # botocore's own validator reports wrong types
            for name in shape.required_members:
                if name not in value:
                    found.append(f"{path}: missing required member {name}")
            for name, member in value.items():
                if name not in shape.members:
                    found.append(f"{path}: unknown member {name}")
                else:
                    self._check(shape.members[name], member, f"{path}.{name}", found)
            return
        if isinstance(shape, ListShape):
            if isinstance(value, (list, tuple)):
                self._length(len(value), meta, path, "items", found)
                for index, item in enumerate(value):
                    self._check(shape.member, item, f"{path}[{index}]", found)
            return
        if isinstance(shape, MapShape):
            if isinstance(value, dict):
                self._length(len(value), meta, path, "entries", found)
                for key, item in value.items():
                    self._check(shape.key, key, f"{path}.<key {key!r}>", found)
                    self._check(shape.value, item, f"{path}[{key!r}]", found)
            return
        if shape.type_name == "string" and isinstance(value, str):
            self._length(len(value), meta, path, "characters", found)
            enum = shape.enum
            if enum and value not in enum:
                found.append(f"{path}: {value!r} is not one of {sorted(enum)}")
            pattern = meta.get("pattern")
            if pattern and compiled(pattern).fullmatch(value) is None:
                found.append(f"{path}: {value!r} does not match the pattern {pattern!r}")
        elif shape.type_name == "blob" and isinstance(value, (bytes, bytearray, str)):
            size = len(value.encode() if isinstance(value, str) else value)
            self._length(size, meta, path, "bytes", found)
        elif shape.type_name in {"integer", "long", "float", "double"} and isinstance(value, (int, float)):
            if "min" in meta and value < meta["min"]:
                found.append(f"{path}: {value} is below the minimum {meta['min']}")
            if "max" in meta and value > meta["max"]:
                found.append(f"{path}: {value} is above the maximum {meta['max']}")

    @staticmethod
    def _length(size: int, meta: dict[str, Any], path: str, unit: str, found: list[str]) -> None:
        if "min" in meta and size < meta["min"]:
            found.append(f"{path}: {size} {unit}, below the minimum {meta['min']}")
        if "max" in meta and size > meta["max"]:
            found.append(f"{path}: {size} {unit}, above the maximum {meta['max']}")


@contextmanager
def install(validator: StrictValidator) -> Iterator[StrictValidator]:
    """Validate every API call made by any botocore client while the context is open."""
    original = BaseClient._make_api_call

    def checked_call(self: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
        model = self.meta.service_model.operation_model(operation_name)
        service = self.meta.service_model.service_name
        validator.validate(f"{service}.{operation_name}", model.input_shape, api_params)
        return original(self, operation_name, api_params)

    BaseClient._make_api_call = checked_call  # type: ignore[method-assign]
    try:
        yield validator
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]
