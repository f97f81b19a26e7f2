"""What both halves of the local Athena dialect share: the refusal's wording, Trino's function
names, the catalog a query is translated against, and an error's first line.

`dialect` (caches, SHOW/DESCRIBE, DuckDB's errors) and `dialect_rewrites` (sqlglot) both import
this module, and `dialect_rewrites` imports nothing of `dialect`: so `dialect`'s one lazy import of
the translator (on a cache miss) makes no import cycle.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from tollcli.errors import UsageError

UNSUPPORTED = "not supported by the local engine (Athena has it): {}"

NON_UTC_ISO8601 = "from_iso8601_timestamp with a time zone offset other than UTC"
NON_UTC_ZONE = "{} with a time zone other than UTC"

# Trino's function names (Trino 4xx documentation, "List of functions by topic"): a name here that
# DuckDB lacks is "not supported by the local engine"; a name not here is a mistake in the query.
_TRINO_FUNCTION_NAMES = """
abs acos all_match any_match any_value approx_distinct approx_most_frequent approx_percentile approx_set arbitrary
array_agg array_distinct array_except array_histogram array_intersect array_join array_max array_min array_position
array_remove array_sort array_union arrays_overlap asin at_timezone atan atan2 avg bar beta_cdf bing_tile bit_count
bitwise_and bitwise_and_agg bitwise_left_shift bitwise_not bitwise_or bitwise_or_agg bitwise_right_shift
bitwise_right_shift_arithmetic bitwise_xor bool_and bool_or cardinality cast cbrt ceil ceiling char2hexint checksum chr
classify codepoint color combinations concat concat_ws contains contains_sequence corr cos cosh cosine_similarity count
count_if covar_pop covar_samp crc32 cume_dist current_catalog current_date current_groups current_schema current_time
current_timestamp current_timezone current_user date date_add date_diff date_format date_parse date_trunc day
day_of_month day_of_week day_of_year degrees dense_rank dow doy e element_at empty_approx_set ends_with every exp
extract features filter first_value flatten floor format format_datetime format_number from_base from_base32
from_base64 from_base64url from_big_endian_32 from_big_endian_64 from_hex from_ieee754_32 from_ieee754_64
from_iso8601_date from_iso8601_timestamp from_iso8601_timestamp_nanos from_unixtime from_unixtime_nanos from_utf8
geometric_mean greatest hamming_distance hash_counts histogram hmac_md5 hmac_sha1 hmac_sha256 hmac_sha512 hour
human_readable_seconds if index infinity intersection_cardinality inverse_beta_cdf inverse_normal_cdf is_finite
is_infinite is_json_scalar is_nan jaccard_index json_array_contains json_array_get json_array_length json_exists
json_extract json_extract_scalar json_format json_object json_array json_parse json_query json_size json_value kurtosis
lag last_day_of_month last_value lead learn_classifier learn_libsvm_classifier least length levenshtein_distance
line_interpolate_point listagg ln localtime localtimestamp log log10 log2 lower lpad ltrim luhn_check make_set_digest
map map_agg map_concat map_entries map_filter map_from_entries map_keys map_union map_values map_zip_with max max_by
md5 merge merge_set_digest millisecond min min_by minute mod month multimap_agg multimap_from_entries murmur3 nan
ngrams none_match normal_cdf normalize now nth_value ntile nullif numeric_histogram objectid parse_data_size
parse_datetime parse_duration percent_rank pi position pow power quarter radians rand random rank reduce reduce_agg
regexp_count regexp_extract regexp_extract_all regexp_like regexp_position regexp_replace regexp_split regr_intercept
regr_slope render repeat replace reverse rgb round row_number rpad rtrim second sequence sha1 sha256 sha512 shuffle
sign simplify_geometry sin sinh skewness slice soundex split split_part split_to_map split_to_multimap
spooky_hash_v2_32 spooky_hash_v2_64 sqrt starts_with stddev stddev_pop stddev_samp strpos substr substring sum tan tanh
timestamp_objectid timezone_hour timezone_minute to_base to_base32 to_base64 to_base64url to_big_endian_32
to_big_endian_64 to_char to_date to_hex to_ieee754_32 to_ieee754_64 to_iso8601 to_milliseconds to_timestamp to_unixtime
to_utf8 transform transform_keys transform_values translate trim trim_array truncate try try_cast typeof upper
url_decode url_encode url_extract_fragment url_extract_host url_extract_parameter url_extract_path url_extract_port
url_extract_protocol url_extract_query uuid value_at_quantile values_at_quantiles var_pop var_samp variance week
week_of_year wilson_interval_lower wilson_interval_upper width_bucket with_timezone word_stem xxhash64 year
year_of_week yow zip zip_with
bing_tile_at bing_tile_coordinates bing_tile_polygon bing_tile_quadkey bing_tile_zoom_level bing_tiles_around
from_geojson_geometry geometry_from_hadoop_shape geometry_invalid_reason geometry_nearest_points geometry_to_bing_tiles
geometry_union great_circle_distance line_locate_point st_area st_asbinary st_astext st_boundary st_buffer st_centroid
st_contains st_convexhull st_coorddim st_crosses st_difference st_dimension st_disjoint st_distance st_endpoint
st_envelope st_envelopeaspts st_equals st_exteriorring st_geometries st_geometryfromtext st_geometryn st_geometrytype
st_geomfrombinary st_interiorringn st_interiorrings st_intersection st_intersects st_isclosed st_isempty st_isring
st_issimple st_isvalid st_length st_linefromtext st_linestring st_multipoint st_numgeometries st_numinteriorring
st_numpoints st_overlaps st_point st_pointn st_points st_polygon st_relate st_startpoint st_symdifference st_touches
st_union st_within st_x st_xmax st_xmin st_y st_ymax st_ymin to_geojson_geometry to_geometry to_spherical_geography
"""
TRINO_FUNCTIONS = frozenset(re.findall(r"\w+", _TRINO_FUNCTION_NAMES))

# (default schema, databases, every (schema, table, ((column, type), ...)) in order): a catalog's value
CatalogKey = tuple[str, tuple[str, ...], tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...]]


@dataclass(frozen=True, eq=False)
class Catalog:
    """What the translation needs to know of the tables: schema -> table -> column -> DuckDB type."""

    tables: Mapping[str, Mapping[str, Mapping[str, str]]]
    default_schema: str
    databases: tuple[str, ...] = ()

    def key(self) -> CatalogKey:
        return (
            self.default_schema,
            self.databases,
            tuple(sorted((s, t, tuple(c.items())) for s, ts in self.tables.items() for t, c in ts.items())),
        )

    def __hash__(self) -> int:
        return hash(self.key())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Catalog) and self.key() == other.key()

    def find(self, name: str, schema: str | None = None) -> tuple[str, str, Mapping[str, str]]:
        wanted = name.strip('"`').lower()
        schemas = [schema.strip('"`').lower()] if schema else [self.default_schema, *sorted(self.tables)]
        for candidate in schemas:
            for table, columns in self.tables.get(candidate, {}).items():
                if table.lower() == wanted:
                    return candidate, table, columns
        where = f"{schema}." if schema else ""
        raise UsageError(f"SQL error: table {where}{name} does not exist")


def first_line(exc: BaseException) -> str:
    """An exception's first line, without terminal escape codes (sqlglot underlines a parse error's place with them)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip().splitlines()
    return text[0] if text else type(exc).__name__
