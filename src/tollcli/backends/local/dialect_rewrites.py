"""Athena (Trino) SQL -> DuckDB SQL with sqlglot: the part of `dialect.translate` that parses.

    to_duckdb(sql, catalog)     one Athena query -> one DuckDB statement (or UsageError in Trino's terms)

`dialect` imports this module only when a translation is in neither of its caches: importing
it (sqlglot) takes 65-80 ms on top of the local engine's imports, which a `toll query` process
whose SQL is cached never pays (bench/README.md, "Athena's dialect"). The flow, the Trino
semantics the rewrites carry and the known gaps are in `dialect`'s docstring; this module
holds the parse, the type annotation and the rewrites.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, UnsupportedError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify

from tollcli.backends.local.dialect_names import NON_UTC_ISO8601, NON_UTC_ZONE, TRINO_FUNCTIONS, UNSUPPORTED, Catalog, first_line
from tollcli.errors import UsageError

Rewrite = Callable[[exp.Expr], exp.Expr]  # a node -> the node DuckDB answers as Trino would


def to_duckdb(sql: str, catalog: Catalog) -> str:
    try:
        statements = [s for s in sqlglot.parse(sql, read="athena") if s is not None]
    except ParseError as exc:
        raise UsageError(_syntax_error(exc)) from None
    except Exception as exc:  # sqlglot's tokenizer raises its own TokenError
        raise UsageError(f"SQL error: {first_line(exc)}") from None
    if len(statements) != 1:
        raise UsageError(f"give exactly one statement, not {len(statements)}")
    tree = statements[0]
    if isinstance(tree, exp.Command):
        name = " ".join(sql.split()[:2]).upper()
        if name.split()[0] in {"SHOW", "DESCRIBE", "DESC", "EXPLAIN", "USE", "MSCK", "VACUUM", "OPTIMIZE", "UNLOAD"}:
            raise UsageError(UNSUPPORTED.format(name))
    if not isinstance(tree, (exp.Query, exp.Values)):
        return sql  # not a query: the read-only guard refuses it with its own words
    tree = _drop_catalog_prefix(tree)
    tree = _name_unnamed_columns(tree)
    schema: dict[str, object] = {s: {t: dict(c) for t, c in ts.items()} for s, ts in catalog.tables.items()}
    tree = _annotate(tree, schema, catalog.default_schema)
    tree = _trino_typeof(tree)
    tree = _keep_zones_or_refuse(tree)
    tree = tree.transform(_rewrite, copy=False)
    if isinstance(tree, exp.Values):
        width = len(tree.expressions[0].expressions) if isinstance(tree.expressions[0], exp.Tuple) else 1
        names = ", ".join(f"_col{i}" for i in range(width))
        return f"SELECT * FROM ({tree.sql('duckdb')}) AS _values({names})"
    try:
        return tree.sql("duckdb", unsupported_level=ErrorLevel.RAISE)
    except UnsupportedError as exc:
        raise UsageError(UNSUPPORTED.format(_unsupported_name(first_line(exc)))) from None


def _unsupported_name(message: str) -> str:
    """The Trino function (or construct) in sqlglot's UnsupportedError, not sqlglot's sentence."""
    argument = re.search(r"Argument '(\w+)' is not supported for expression '(\w+)'", message)
    if argument:
        node_class = getattr(exp, argument.group(2), None)
        is_function = isinstance(node_class, type) and issubclass(node_class, exp.Func)
        names = [n.lower() for n in node_class.sql_names()] if is_function else []  # type: ignore[union-attr]
        function = next((n for n in names if n in TRINO_FUNCTIONS), names[0] if names else argument.group(2).lower())
        return f"{function} (its argument {argument.group(1)})"
    what = re.sub(r"\s+is not supported in DuckDB.*$|^Unsupported\s+", "", message, flags=re.I).rstrip(".")
    return what.lower() if re.fullmatch(r"\w+", what) else what


def _syntax_error(exc: ParseError) -> str:
    errors = getattr(exc, "errors", None) or [{}]
    first = errors[0]
    where = f" at line {first['line']}, column {first['col']}" if first.get("line") else ""
    near = f" near {first['highlight']!r}" if first.get("highlight") else ""
    detail = first.get("description") or first_line(exc)
    if "sqlglot" in detail or "<class" in detail:  # the parser's own internals say nothing to a user
        return f"SQL error: syntax error{where}{near}"
    return f"SQL error: syntax error{where}{near} ({detail})"


def _drop_catalog_prefix(tree: exp.Expr) -> exp.Expr:
    for table in tree.find_all(exp.Table):
        if table.args.get("catalog") is not None and table.catalog.lower() == "awsdatacatalog":
            table.set("catalog", None)
    return tree


def _name_unnamed_columns(tree: exp.Expr) -> exp.Expr:
    """Trino calls a result column that is not a plain column and has no alias `_col<position>`."""
    for select in tree.find_all(exp.Select):
        for position, projection in enumerate(select.expressions):
            if not isinstance(projection, (exp.Alias, exp.Column, exp.Star, exp.Dot)):
                projection.replace(exp.alias_(projection.copy(), f"_col{position}", quoted=False))
    return tree


def _annotate(tree: exp.Expr, schema: dict[str, object], default_schema: str) -> exp.Expr:
    """sqlglot's type annotation, with the catalog's column types; left as it is if it cannot qualify."""
    try:
        qualified = qualify(
            tree.copy(),
            schema=schema,
            dialect="athena",
            db=default_schema,
            expand_stars=False,
            quote_identifiers=False,
            validate_qualify_columns=False,
            identify=False,
        )
        return annotate_types(qualified, schema=schema, dialect="athena")
    except Exception:
        return annotate_types(tree, schema=schema, dialect="athena")


class NumericType(NamedTuple):
    """A Trino numeric type as far as the rewrites need it: "int", "double", or "decimal" with its scale."""

    kind: str
    scale: int = 0  # digits after the point (a decimal's; 0 otherwise)


INT, DOUBLE = NumericType("int"), NumericType("double")


def trino_numeric_type(node: exp.Expr) -> NumericType | None:
    """The Trino type of a numeric expression, where sqlglot's annotation (DuckDB-minded) is not enough."""
    if isinstance(node, exp.Paren):
        return trino_numeric_type(node.this)
    if isinstance(node, exp.Neg):
        return trino_numeric_type(node.this)
    if isinstance(node, exp.Literal) and not node.is_string:
        text = node.this.lower()
        if "e" in text:
            return DOUBLE
        if "." in text:
            return NumericType("decimal", len(text.split(".", 1)[1]))
        return INT
    if isinstance(node, exp.Cast):
        return _type_of_datatype(node.to)
    if isinstance(node, (exp.Mul, exp.Add, exp.Sub, exp.Div, exp.Mod)):
        left, right = trino_numeric_type(node.this), trino_numeric_type(node.expression)
        if left is None or right is None:
            return None
        if DOUBLE in (left, right):
            return DOUBLE
        if left == right == INT:
            return INT
        s1, s2 = left.scale, right.scale  # an int's is 0
        return NumericType("decimal", s1 + s2 if isinstance(node, exp.Mul) else max(s1, s2))
    if isinstance(node, (exp.Round, exp.Abs)) and isinstance(node.this, exp.Expr):
        inner = trino_numeric_type(node.this)
        return inner
    if isinstance(node, exp.Count):
        return INT
    if isinstance(node, exp.Window):
        return trino_numeric_type(node.this)
    if isinstance(node, (exp.Sum, exp.Max, exp.Min)):
        return trino_numeric_type(node.this)
    if isinstance(node, exp.Avg):
        inner = trino_numeric_type(node.this)
        return inner if inner and inner.kind == "decimal" else DOUBLE
    annotated = getattr(node, "type", None)
    return _type_of_datatype(annotated) if annotated is not None else None


def _type_of_datatype(datatype: exp.DataType | None) -> NumericType | None:
    if datatype is None:
        return None
    kind = datatype.this
    if kind in exp.DataType.INTEGER_TYPES:
        return INT
    if kind in (exp.DType.DOUBLE, exp.DType.FLOAT):
        return DOUBLE
    if kind == exp.DType.DECIMAL:
        params = datatype.expressions
        return NumericType("decimal", int(params[1].this.this) if len(params) > 1 else 0)
    return None


def _rewrite(node: exp.Expr) -> exp.Expr:
    rewrite = _REWRITES.get(type(node))
    if rewrite is None and isinstance(node, exp.Anonymous):
        rewrite = _ANONYMOUS_REWRITES.get(node.name.lower())
    return rewrite(node) if rewrite is not None else node


def _call(name: str, *args: exp.Expr) -> exp.Anonymous:
    return exp.Anonymous(this=name, expressions=list(args))


def _rewrite_div(node: exp.Expr) -> exp.Expr:
    """Decimal division at Trino's result scale; integer division is sqlglot's (typed, truncating)."""
    result = trino_numeric_type(node)
    if result is None or result.kind != "decimal":
        return node
    scale = result.scale
    quotient = exp.Div(
        this=exp.cast(node.this.copy(), "DOUBLE"), expression=exp.cast(node.expression.copy(), "DOUBLE"), typed=False, safe=False
    )
    rounded = exp.Round(this=exp.Paren(this=quotient), decimals=exp.Literal.number(scale))
    return exp.cast(rounded, f"DECIMAL(38, {scale})")


def _rewrite_round(node: exp.Expr) -> exp.Expr:
    """round(decimal(p, s), n) keeps the scale s in Trino (2.345 -> 2.350); DuckDB narrows it."""
    source = trino_numeric_type(node.this)
    if source is None or source.kind != "decimal" or node.args.get("decimals") is None:
        return node
    return exp.cast(node, f"DECIMAL(38, {source.scale})")


def _rewrite_date_add(node: exp.Expr) -> exp.Expr:
    """date_add(unit, n, date) is a DATE in Trino; DuckDB's date + interval is a TIMESTAMP."""
    value = node.this
    kind = getattr(getattr(value, "type", None), "this", None)
    is_date = kind == exp.DType.DATE or (isinstance(value, exp.Cast) and value.to.this == exp.DType.DATE)
    is_date = is_date or isinstance(value, (exp.Date, exp.DateStrToDate, exp.CurrentDate, exp.TsOrDsToDate))
    unit_node = node.args.get("unit")
    unit = (unit_node.name if unit_node is not None else "day").lower()
    if is_date and unit in {"day", "week", "month", "quarter", "year"}:
        return exp.cast(node, "DATE")
    return node


def _rewrite_cardinality(node: exp.Expr) -> exp.Expr:
    """cardinality() of a map: DuckDB's array_length takes lists only."""
    value = node.this
    kind = getattr(getattr(value, "type", None), "this", None)
    maps = (exp.Map, exp.VarMap, exp.MapFromEntries)
    if (
        kind == exp.DType.MAP
        or isinstance(value, maps)
        or (isinstance(value, exp.Anonymous) and value.name.lower() in {"histogram", "map_agg"})
    ):
        return _call("cardinality", value.copy())
    return node


def _rewrite_slice(node: exp.Expr) -> exp.Expr:
    """Trino's slice(array, start, length); DuckDB's list_slice takes start and end."""
    start, length = node.args.get("start"), node.args.get("end")
    if start is None or length is None:
        return node
    end = exp.Sub(this=exp.Add(this=start.copy(), expression=length.copy()), expression=exp.Literal.number(1))
    return _call("list_slice", node.this.copy(), start.copy(), end)


def _rewrite_cast(node: exp.Expr) -> exp.Expr:
    """CAST(double AS integer type) rounds half away from zero in Trino."""
    if not isinstance(node, exp.Cast) or node.to.this not in exp.DataType.INTEGER_TYPES:  # TryCast is a Cast
        return node
    source = trino_numeric_type(node.this)
    if source != DOUBLE:
        return node
    node.set("this", exp.Round(this=node.this.copy()))
    return node


def _rewrite_date_diff(node: exp.Expr) -> exp.Expr:
    """Trino counts whole elapsed units: DuckDB's date_sub, not its date_diff (crossed boundaries)."""
    unit = node.args.get("unit")
    unit_name = (unit.name if unit is not None else "day").lower()
    return _call("date_sub", exp.Literal.string(unit_name), node.expression.copy(), node.this.copy())


def _rewrite_regexp_extract(node: exp.Expr) -> exp.Expr:
    group = node.args.get("group") or exp.Literal.number(0)
    return _call("toll_regexp_extract", node.this.copy(), node.expression.copy(), group.copy())


def _rewrite_regexp_replace(node: exp.Expr) -> exp.Expr:
    """Trino writes a group in the replacement as $1; DuckDB (RE2) as \\1."""
    replacement = node.args.get("replacement")
    if isinstance(replacement, exp.Literal) and replacement.is_string:
        text = re.sub(r"\$(\d)", r"\\\1", replacement.this.replace("\\", "\\\\"))
        node.set("replacement", exp.Literal.string(text))
    elif replacement is not None:
        raise UsageError(UNSUPPORTED.format("regexp_replace with a replacement that is not a literal"))
    return node


def _rewrite_joda(function: str, target: str) -> Rewrite:
    def rewrite(node: exp.Expr) -> exp.Expr:
        args = list(node.expressions) if isinstance(node, exp.Anonymous) else [node.this, node.args.get("format")]
        if len(args) != 2 or not (isinstance(args[1], exp.Literal) and args[1].is_string):
            raise UsageError(UNSUPPORTED.format(f"{function} with a pattern that is not a literal"))
        pattern = joda_to_strftime(args[1].this, function)
        value = args[0].copy()
        if target == "strptime":
            return exp.cast(_call("strptime", value, exp.Literal.string(pattern)), "TIMESTAMPTZ")
        return _call("strftime", value, exp.Literal.string(pattern))

    return rewrite


def _rename(name: str) -> Rewrite:
    def rewrite(node: exp.Expr) -> exp.Expr:
        return _call(name, *(e.copy() for e in node.expressions))

    return rewrite


def _rewrite_from_unixtime(node: exp.Expr) -> exp.Expr:
    """from_unixtime(x), or with the zone 'UTC' or a zero offset; any other zone is kept by Trino, refused here."""
    if not isinstance(node, exp.UnixToTime) or node.args.get("scale") is not None:
        return node
    zone = node.args.get("zone")
    offset = [node.args.get(k) for k in ("hours", "minutes") if node.args.get(k) is not None]
    if zone is not None and not _is_utc_zone(zone):
        raise UsageError(UNSUPPORTED.format(NON_UTC_ZONE.format("from_unixtime")))
    if any(not (isinstance(o, exp.Literal) and not o.is_string and float(o.this) == 0) for o in offset):
        raise UsageError(UNSUPPORTED.format(NON_UTC_ZONE.format("from_unixtime")))
    return _call("toll_from_unixtime", node.this.copy())


# A string that names UTC in Trino: the zone 'UTC' or an offset of zero (Trino's TimeZoneKey maps both to UTC).
_UTC_NAME = re.compile(r"^(?:UTC|[+-]00(?::?00)?)$", re.I)
_ISO_OFFSET = re.compile(r"T[0-9:.,]*([+-][0-9]{2}(?::?[0-9]{2})?)$")
_TIMESTAMP_ZONE = re.compile(
    r"^\s*[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[ T][0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]*)?)?)?\s*(.*?)\s*$"
)


def _is_utc_zone(zone: exp.Expr | None) -> bool:
    return isinstance(zone, exp.Literal) and zone.is_string and bool(_UTC_NAME.match(zone.this.strip()))


def iso8601_is_utc(text: str) -> bool:
    """from_iso8601_timestamp's text ends in Z, a zero offset or no offset (the session zone, UTC)."""
    text = text.strip()
    if text.endswith(("Z", "z")):
        return True
    offset = _ISO_OFFSET.search(text)
    return offset is None or bool(_UTC_NAME.match(offset.group(1)))


def _only_the_instant_counts(node: exp.Expr) -> bool:
    """`node` is compared or sorted (through try() or parentheses): Trino compares instants, whatever the zone."""
    parent = node.parent
    while isinstance(parent, (exp.Try, exp.Paren)):
        parent = parent.parent
    comparisons = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between, exp.Ordered)
    return isinstance(parent, comparisons)


def _keep_zones_or_refuse(tree: exp.Expr) -> exp.Expr:
    """Timestamps with a zone other than UTC: Trino keeps the zone, DuckDB's TIMESTAMPTZ cannot, so refuse them.

    A literal is checked here; a column at run time (`toll_from_iso8601_timestamp`), except where only
    the instant counts (a comparison: the time filters of `toll query`, unchanged). Under try() the
    check moves outside the try (DuckDB's try() takes no error()); a computed argument under try()
    is the one case left unchecked (documented in the module docstring).
    """
    for cast in list(tree.find_all(exp.Cast)):
        if cast.to.this == exp.DType.TIMESTAMPTZ and isinstance(cast.this, exp.Literal) and cast.this.is_string:
            zone = _TIMESTAMP_ZONE.match(cast.this.this)
            if zone and zone.group(1):
                if not _UTC_NAME.match(zone.group(1)):
                    raise UsageError(UNSUPPORTED.format(NON_UTC_ZONE.format("a timestamp literal")))
                cast.set("this", exp.Literal.string(cast.this.this[: zone.start(1)].strip()))
    guarded: dict[int, tuple[exp.Try, list[exp.Column]]] = {}
    for node in list(tree.find_all(exp.FromISO8601Timestamp)):
        value = node.this
        if isinstance(value, exp.Literal) and value.is_string:
            if not iso8601_is_utc(value.this):
                raise UsageError(UNSUPPORTED.format(NON_UTC_ISO8601))
            node.replace(exp.cast(value.copy(), "TIMESTAMPTZ"))
            continue
        if _only_the_instant_counts(node):
            node.replace(exp.cast(value.copy(), "TIMESTAMPTZ"))
            continue
        outer_try = node.find_ancestor(exp.Try)
        if outer_try is None:
            node.replace(_call("toll_from_iso8601_timestamp", value.copy()))
            continue
        if isinstance(value, exp.Column):
            guarded.setdefault(id(outer_try), (outer_try, []))[1].append(value.copy())
        node.replace(exp.cast(value.copy(), "TIMESTAMPTZ"))
    for outer_try, columns in guarded.values():
        offsets = [_call("toll_iso_offset_not_utc", c) for c in columns]
        condition = offsets[0] if len(offsets) == 1 else exp.or_(*offsets)
        refusal = _call("error", exp.Literal.string(UNSUPPORTED.format(NON_UTC_ISO8601)))
        case = exp.Case(ifs=[exp.If(this=condition, true=refusal)], default=outer_try.copy())
        if outer_try is tree:
            tree = case
        else:
            outer_try.replace(case)
    for at_zone in list(tree.find_all(exp.AtTimeZone)):
        if not _is_utc_zone(at_zone.args.get("zone")):
            raise UsageError(UNSUPPORTED.format(NON_UTC_ZONE.format("AT TIME ZONE")))
        at_zone.replace(exp.cast(at_zone.this.copy(), "TIMESTAMPTZ"))
    return tree


def _trino_typeof(tree: exp.Expr) -> exp.Expr:
    """typeof() in Trino's names: `integer`, `varchar(3)` for 'abc', `decimal(2,1)` for 1.5.

    A literal, a cast and a plain column are named here or by `toll_typeof`; a computed varchar or
    decimal is refused (Trino tracks lengths and precisions that DuckDB does not: upper('abc') is varchar(3)).
    """
    for node in list(tree.find_all(exp.Typeof)):
        value = node.this
        name = _literal_trino_type(value)
        if name is None and isinstance(value, exp.Cast) and value.to.expressions:
            name = value.to.sql("trino").lower().replace(" ", "").replace("with", " with ").replace("timezone", "time zone")
        if name is not None:
            node.replace(exp.Literal.string(name))
            continue
        # A column of a catalog table (Hive `string`: varchar); one of VALUES or a subquery has Trino's derived length.
        derived = tree.find(exp.Values, exp.Subquery, exp.CTE) is not None
        exact = isinstance(value, exp.Cast) or (isinstance(value, exp.Column) and not derived)
        node.replace(_call("toll_typeof", _call("typeof", value.copy()), exp.Boolean(this=exact)))
    return tree


def _literal_trino_type(value: exp.Expr) -> str | None:
    if isinstance(value, exp.Paren):
        return _literal_trino_type(value.this)
    if isinstance(value, exp.Null):
        return "unknown"
    if isinstance(value, exp.Boolean):
        return "boolean"
    if not isinstance(value, exp.Literal):
        return None
    if value.is_string:
        return f"varchar({len(value.this)})"
    text = value.this.lower()
    if "e" in text:
        return "double"
    if "." in text:
        whole, fraction = text.split(".", 1)
        return f"decimal({max(len(whole.lstrip('0')) + len(fraction), 1)},{len(fraction)})"
    return "integer" if -(2**31) <= int(text) < 2**31 else "bigint"


def _rewrite_with_timezone(function: str) -> Rewrite:
    """with_timezone(timestamp, 'UTC') and at_timezone(ts, 'UTC') are the session zone's TIMESTAMPTZ; other zones refused."""

    def rewrite(node: exp.Expr) -> exp.Expr:
        args = list(node.expressions)
        if len(args) != 2 or not _is_utc_zone(args[1]):
            raise UsageError(UNSUPPORTED.format(NON_UTC_ZONE.format(function)))
        return exp.cast(args[0].copy(), "TIMESTAMPTZ")

    return rewrite


def _refuse_sql_json(node: exp.Expr) -> exp.Expr:
    """json_query/json_value/json_exists take Trino's SQL/JSON path ('lax $.a', 'strict $.a', wrappers,
    ON EMPTY/ON ERROR); DuckDB reads the path as its own JSONPath ('lax $.a' finds nothing: NULL)."""
    if isinstance(node, exp.JSONValue):
        raise UsageError(UNSUPPORTED.format("json_value"))
    if isinstance(node, exp.JSONExtract) and node.args.get("json_query"):
        raise UsageError(UNSUPPORTED.format("json_query"))
    if isinstance(node, exp.Anonymous):
        raise UsageError(UNSUPPORTED.format(node.name.lower()))
    return node


# The nodes whose DuckDB spelling answers differently from Trino, and their rewrites (`_rewrite`, bottom-up).
_REWRITES: dict[type[exp.Expr], Rewrite] = {
    exp.Div: _rewrite_div,
    exp.Cast: _rewrite_cast,
    exp.TryCast: _rewrite_cast,
    exp.DateDiff: _rewrite_date_diff,
    exp.RegexpExtract: _rewrite_regexp_extract,
    exp.RegexpReplace: _rewrite_regexp_replace,
    exp.UnixToTime: _rewrite_from_unixtime,
    exp.Round: _rewrite_round,
    exp.DateAdd: _rewrite_date_add,
    exp.ArraySize: _rewrite_cardinality,
    exp.ArraySlice: _rewrite_slice,
    exp.ArrayDistinct: lambda node: _call("toll_array_distinct", node.this.copy()),
    exp.SplitPart: lambda node: _call("toll_split_part", *(node.args[k].copy() for k in ("this", "delimiter", "part_index"))),
    # Trino's HyperLogLog is exact on small sets and within 2.3% (its standard error) on large ones;
    # an exact count is both. DuckDB's estimator is not exact on small sets (11 for 10 stations).
    exp.ApproxDistinct: lambda node: exp.Count(this=exp.Distinct(expressions=[node.this.copy()])),
    exp.JSONExtract: _refuse_sql_json,
    exp.JSONValue: _refuse_sql_json,
    exp.ParseDatetime: _rewrite_joda("parse_datetime", "strptime"),
}


_ANONYMOUS_REWRITES = {
    "millisecond": _rename("toll_millisecond"),
    "to_iso8601": _rename("toll_to_iso8601"),
    "map_agg": _rename("toll_map_agg"),
    "codepoint": _rename("unicode"),
    "from_iso8601_date": _rename("toll_from_iso8601_date"),
    "json_exists": _refuse_sql_json,
    "with_timezone": _rewrite_with_timezone("with_timezone"),
    "at_timezone": _rewrite_with_timezone("at_timezone"),
    "format_datetime": _rewrite_joda("format_datetime", "strftime"),
    "parse_datetime": _rewrite_joda("parse_datetime", "strptime"),
}

# Joda-Time pattern letters (by their run length) -> DuckDB strftime directives.
_JODA = {
    "yyyy": "%Y", "YYYY": "%Y", "yy": "%y", "MMMM": "%B", "MMM": "%b", "MM": "%m", "M": "%-m",
    "dd": "%d", "d": "%-d", "DDD": "%j", "HH": "%H", "H": "%-H", "hh": "%I", "h": "%-I",
    "mm": "%M", "m": "%-M", "ss": "%S", "s": "%-S", "SSSSSS": "%f", "SSS": "%g", "a": "%p",
    "EEEE": "%A", "EEE": "%a", "E": "%a",
}  # fmt: skip


def joda_to_strftime(pattern: str, function: str = "format_datetime") -> str:
    """A Joda-Time pattern (Trino's format_datetime/parse_datetime) as a DuckDB strftime pattern."""
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "'":
            end = pattern.find("'", index + 1)
            if end == -1:
                raise UsageError(f"SQL error: unterminated quote in the {function} pattern {pattern!r}")
            out.append(pattern[index + 1 : end].replace("%", "%%") if end > index + 1 else "'")
            index = end + 1
            continue
        if char.isalpha():
            run = len(pattern[index:]) - len(pattern[index:].lstrip(char))
            directive = _JODA.get(char * run)
            if directive is None:
                raise UsageError(UNSUPPORTED.format(f"{function} pattern letter {char * run!r}"))
            out.append(directive)
            index += run
            continue
        out.append("%%" if char == "%" else char)
        index += 1
    return "".join(out)
