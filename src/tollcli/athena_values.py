"""Values printed as Athena prints them, on either backend (`toll query sql`'s table, csv and json).

Athena's console and its result CSV spell values as Trino does: timestamps with milliseconds and
their zone, booleans as `true`/`false`, doubles as Java prints them (`java_double`), arrays and maps
in Trino's brackets, NULL as nothing. The local engine's DuckDB values and pyathena's values are
both turned into that spelling here, so the same query prints the same text on both backends.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any


def athena_text(value: object) -> str | None:
    """A value as Athena's console and result CSV print it; None stays None (NULL)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        text = value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"
        if value.tzinfo is not None:
            offset = value.utcoffset()
            text += " UTC" if not offset else " " + value.strftime("%z")[:3] + ":" + value.strftime("%z")[3:]
        return text
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S.") + f"{value.microsecond // 1000:03d}"
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_nested(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_nested(k)}={_nested(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return " ".join(f"{b:02x}" for b in bytes(value))
    return str(value)


def _nested(value: object) -> str:
    text = athena_text(value)
    return "null" if text is None else text


def java_double(value: float) -> str:
    """Java's Double.toString, which Athena prints doubles with: 1.0, 20.345, 1.0E7, NaN, Infinity."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1, value) < 0 else "0.0"
    if 1e-3 <= abs(value) < 1e7:
        text = repr(value)
        return text if "." in text or "e" in text else text + ".0"
    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    shown = "".join(map(str, digits)).rstrip("0") or "0"
    power = len(digits) - 1 + int(exponent)
    return ("-" if sign else "") + shown[0] + "." + (shown[1:] or "0") + f"E{power}"


def athena_json(value: object) -> Any:
    """A value for `--format json`: numbers and booleans stay JSON's, arrays and maps nest, the rest as Athena prints it."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else java_double(value)
    if isinstance(value, (list, tuple)):
        return [athena_json(v) for v in value]
    if isinstance(value, dict):
        return {_nested(k): athena_json(v) for k, v in value.items()}
    return athena_text(value)


def athena_rows(rows: Iterable[Sequence[object]]) -> list[tuple[str | None, ...]]:
    return [tuple(athena_text(v) for v in row) for row in rows]


def athena_csv(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Athena's result CSV: every value quoted, NULL an empty unquoted field, so '' and NULL differ."""

    def field(text: str | None) -> str:
        return "" if text is None else '"' + text.replace('"', '""') + '"'

    lines = [",".join(field(c) for c in columns)]
    lines += [",".join(field(athena_text(v)) for v in row) for row in rows]
    return "\n".join(lines) + "\n"
