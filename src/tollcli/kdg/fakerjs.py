# ruff: noqa: E501  (word lists and faker.js phrases are kept one per line)
"""The faker.js helper API the KDG bundles (faker.js 3.1.0, English locale), drawn in bulk.

The KDG's page calls `faker.fake(template)`: each `{{module.method(text)}}` gets at most ONE
argument, `JSON.parse(text)` or, when that fails, the raw text as a string; the result is inserted
with JavaScript's `String()` (numbers as JavaScript prints them, arrays joined with commas, objects
as `[object Object]`, dates as `Date.prototype.toString`). This module reproduces that: every module
and method of faker.js 3.1.0 (plus the KDG's additions), with faker.js's defaults and its handling of
odd arguments (`random.number(NaN)` is `NaN`, as there), and faker.js's output shape (type, range,
format). Values are drawn from word lists: the big ones (first names, last names, countries, Latin
words, currencies, MIME types) are Python Faker's, the short English ones are listed here.

`compile_helper(name, argument)` returns a `Draw`: `Pick` (one of a list: drawn column-wise as codes
into a table), `Join` (a concatenation of draws: still column-wise, so `internet.ip` is four code
columns and three dots) or `Each` (a Python function per record, for the compositions that branch).
`factory.RecordFactory` turns draws into byte segments; `sample(...)` renders them for tests.
"""

from __future__ import annotations

import importlib
import json
import math
import random
import re
import string
import uuid as uuid_module  # `uuid` is the name of the faker.js helper below
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache
from typing import Any, TypeAlias

import numpy as np

from tollcli.errors import UsageError
from tollcli.kdg.moment import MONTHS, WEEKDAYS

# What JSON.parse of a helper's argument gives (or the raw text, when it is not JSON; None when
# there is none): what every helper below takes and narrows, as faker.js does, by its JavaScript type.
JsValue: TypeAlias = "bool | int | float | str | list[JsValue] | dict[str, JsValue] | None"
UNDEFINED: JsValue = None  # faker.fake calls the method without an argument when the text is empty


class JsObject(dict[str, JsValue]):
    """A JavaScript object result: `String()` makes it `[object Object]`."""


@dataclass(frozen=True)
class JsDate:
    """A JavaScript Date (epoch milliseconds): `String()` is `Date.prototype.toString`."""

    ms: float


# What a helper gives back, inserted with JavaScript's String() (`js_string`).
JsResult: TypeAlias = "JsValue | JsDate | Sequence[JsResult]"  # a Sequence: a list or tuple of results


def js_number(value: float) -> str:
    """JavaScript's `Number.prototype.toString()` for a double."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        value = float(value) if abs(value) >= 2**53 else value
        if isinstance(value, int):
            return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    text = repr(value)  # shortest round-trip digits, as JavaScript uses
    mantissa, _, exponent = text.partition("e")
    digits = mantissa.replace("-", "").replace(".", "")
    point = mantissa.replace("-", "").find(".")
    point = len(mantissa.replace("-", "")) if point < 0 else point
    exp10 = (int(exponent) if exponent else 0) + point  # value = 0.digits * 10^exp10
    stripped = digits.lstrip("0")
    exp10 -= len(digits) - len(stripped)
    digits = stripped.rstrip("0") or "0"
    sign = "-" if value < 0 else ""
    k, n = len(digits), exp10
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    e = n - 1
    body = digits[0] + ("." + digits[1:] if k > 1 else "")
    return f"{sign}{body}e{'+' if e >= 0 else '-'}{abs(e)}"


WEEKDAY_ABBR = tuple(day[:3] for day in WEEKDAYS)
MONTH_ABBR = tuple(month[:3] for month in MONTHS)


def js_date_string(ms: float) -> str:
    """`Date.prototype.toString()` in the machine's zone, e.g. `Tue Dec 01 2026 15:00:00 GMT+0530 (IST)`.

    JavaScript's dates reach 100,000,000 days either side of 1970 (years -271821 to 275760); Python's
    datetime only years 1 to 9999. Beyond those (`date.recent(99999999)`), the fields are worked out
    from the day count in the proleptic Gregorian calendar, as JavaScript does, with the zone's
    offset at Python's nearest representable date."""
    if not math.isfinite(ms) or abs(ms) > 8.64e15:
        return "Invalid Date"
    try:
        moment = datetime.fromtimestamp(math.floor(ms) / 1000, tz=timezone.utc).astimezone()
    except (OverflowError, ValueError, OSError):
        return _far_date_string(math.floor(ms))
    offset = moment.utcoffset()
    minutes = (
        int(offset.total_seconds() / 60) if offset is not None else 0
    )  # JavaScript drops LMT's seconds: -3:30:52 prints -0330
    weekday = (moment.weekday() + 1) % 7
    clock = (moment.hour, moment.minute, moment.second)
    return _date_text(weekday, moment.year, moment.month, moment.day, clock, minutes, moment.tzname())


def _date_text(weekday: int, year: int, month: int, day: int, clock: tuple[int, int, int], minutes: int, zone: str | None) -> str:
    sign = "+" if minutes >= 0 else "-"
    name = "Coordinated Universal Time" if minutes == 0 and zone in {"UTC", "GMT"} else (zone or "")
    year_text = f"-{-year:04d}" if year < 0 else f"{year:04d}"  # ECMAScript's DateString: a sign below 0, 4 digits at least
    hour, minute, second = clock
    return (
        f"{WEEKDAY_ABBR[weekday]} {MONTH_ABBR[month - 1]} {day:02d} {year_text} "
        f"{hour:02d}:{minute:02d}:{second:02d} GMT{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d} ({name})"
    )


def _far_date_string(ms: int) -> str:
    """`Date.prototype.toString()` for a date outside Python's years 1-9999 (see js_date_string).

    The zone's offset is the one it has on the same day and time of year 1 or 9999 (whichever is
    nearer): local mean time far back, today's rules (daylight saving too) far ahead, as node has them."""
    year, month, day, clock = _civil(ms)
    nearest = datetime(1 if ms < 0 else 9999, month, min(max(day, 2), 28), *clock, tzinfo=timezone.utc).astimezone()
    offset = nearest.utcoffset()
    seconds = round(offset.total_seconds()) if offset is not None else 0
    year, month, day, clock = _civil(ms + seconds * 1000)
    weekday = (math.floor((ms + seconds * 1000) / 86_400_000) + 4) % 7  # 1970-01-01 was a Thursday
    return _date_text(weekday, year, month, day, clock, int(seconds / 60), nearest.tzname())


def _civil(ms: int) -> tuple[int, int, int, tuple[int, int, int]]:
    """Epoch milliseconds -> (year, month, day, (hour, minute, second)) in the proleptic Gregorian
    calendar, for any year (H. Hinnant's civil_from_days)."""
    days, rest = divmod(ms, 86_400_000)
    shifted = days + 719_468
    era = shifted // 146_097
    day_of_era = shifted - era * 146_097
    year_of_era = (day_of_era - day_of_era // 1460 + day_of_era // 36524 - day_of_era // 146_096) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    month_index = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * month_index + 2) // 5 + 1
    month = month_index + 3 if month_index < 10 else month_index - 9
    year = year_of_era + era * 400 + (1 if month <= 2 else 0)
    seconds = rest // 1000
    return year, month, day, (seconds // 3600, seconds // 60 % 60, seconds % 60)


def js_string(value: JsResult) -> str:
    """JavaScript's `String(value)`, as `str.replace` inserts a helper's result."""
    if value is None:
        return "undefined"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return js_number(value)
    if isinstance(value, JsDate):
        return js_date_string(value.ms)
    if isinstance(value, dict):
        return "[object Object]"
    if isinstance(value, (list, tuple)):
        return ",".join("" if v is None else js_string(v) for v in value)
    return str(value)


def parse_argument(text: str) -> JsValue:
    """faker.fake: `JSON.parse(text)`, or the text itself when it is not JSON; '' means no argument."""
    if text == "":
        return UNDEFINED
    try:
        return json.loads(text, parse_constant=lambda name: name, parse_int=_json_whole_number)  # NaN/Infinity: kept as text
    except ValueError:
        return text


def _json_whole_number(digits: str) -> int | float:
    """A JSON whole number as JSON.parse reads it: a double (Infinity past the largest), kept an int
    while the double holds it exactly (2**53), so that `float(int)` never overflows downstream."""
    number = float(digits)
    return int(digits) if abs(number) <= 2**53 else number


# ---------------------------------------------------------------------------------------------
# Draws


class Draw(ABC):
    """How one helper's values are made for `count` records (Pick, Join and Each are the kinds)."""

    @abstractmethod
    def values(self, rng: random.Random, count: int, now: np.ndarray) -> list[str]:
        """`count` rendered values, one per record."""


@dataclass(frozen=True)
class Pick(Draw):
    """One of `choices`, uniformly (faker.js `random.arrayElement`)."""

    choices: tuple[str, ...]

    def values(self, rng: random.Random, count: int, now: np.ndarray) -> list[str]:
        return rng.choices(self.choices, k=count)


@dataclass(frozen=True)
class Join(Draw):
    """Draws and literal texts, concatenated."""

    parts: tuple[Draw | str, ...]

    def values(self, rng: random.Random, count: int, now: np.ndarray) -> list[str]:
        columns = [[p] * count if isinstance(p, str) else p.values(rng, count, now) for p in self.parts]
        return ["".join(row) for row in zip(*columns)]


@dataclass(frozen=True)
class Each(Draw):
    """A function of (random, event time in epoch seconds) per record, for branching compositions."""

    function: Callable[[random.Random, float], JsResult]

    def values(self, rng: random.Random, count: int, now: np.ndarray) -> list[str]:
        return [js_string(self.function(rng, float(t))) for t in now.tolist()]


def digits(width: int) -> Join:
    return Join(tuple(DIGIT for _ in range(width)))


# ---------------------------------------------------------------------------------------------
# Word lists


@cache
def _python_faker(module: str, attribute: str) -> Any:
    return getattr(importlib.import_module(f"faker.providers.{module}").Provider, attribute)


@cache
def words(name: str) -> tuple[str, ...]:
    """A word list by name: Python Faker's big English lists, or the short ones below."""
    if name in WORD_LISTS:
        return WORD_LISTS[name]
    if name == "first_name":
        return tuple(dict.fromkeys(_python_faker("person.en_US", "first_names")))
    if name == "last_name":
        return tuple(dict.fromkeys(_python_faker("person.en_US", "last_names")))
    if name == "country":
        return tuple(_python_faker("address.en_US", "countries"))
    if name == "country_code":
        return tuple(_python_faker("address.en_US", "alpha_2_country_codes"))
    if name == "street_suffix":
        return tuple(_python_faker("address.en_US", "street_suffixes"))
    if name == "lorem":
        return tuple(w for w in _python_faker("lorem.la", "word_list") if re.fullmatch(r"[a-z]+", w))
    if name in {"catch_adjective", "catch_descriptor", "catch_noun"}:
        lists = _python_faker("company.en_US", "catch_phrase_words")
        return tuple(lists[("catch_adjective", "catch_descriptor", "catch_noun").index(name)])
    if name in {"bs_adjective", "bs_noun"}:
        lists = _python_faker("company.en_US", "bsWords")
        return tuple(lists[("bs_verb", "bs_adjective", "bs_noun").index(name)])
    if name == "currency_code":
        return tuple(code for code, _ in _python_faker("currency", "currencies"))
    if name == "currency_name":
        return tuple(label for _, label in _python_faker("currency", "currencies") if re.fullmatch(r"[A-Za-z ]+", label))
    if name == "mime_type":
        return tuple(m.lower() for group in _python_faker("file", "mime_types").values() for m in group)
    raise KeyError(name)


WORD_LISTS: dict[str, tuple[str, ...]] = {
    "prefix": ("Mr.", "Mrs.", "Ms.", "Miss", "Dr."),
    # faker.js's currency symbols, once per currency that has one (so `$`, used by 22, is drawn most).
    "currency_symbol": tuple(
        [
            "؋",
            "Lek",
            "ƒ",
            "ƒ",
            "ман",
            "KM",
            "лв",
            "лв",
            "лв",
            "лв",
            "$b",
            "R$",
            "P",
            "p.",
            "BZ$",
            "CHF",
            "¥",
            "¥",
            "₡",
            "₱",
            "Kč",
            "kr",
            "kr",
            "kr",
            "kr",
            "RD$",
            "£",
            "£",
            "£",
            "£",
            "£",
            "£",
            "£",
            "€",
            "Q",
            "L",
            "kn",
            "Ft",
            "Rp",
            "₪",
            "﷼",
            "﷼",
            "﷼",
            "﷼",
            "﷼",
            "J$",
            "៛",
            "₩",
            "₩",
            "₭",
            "₨",
            "₨",
            "₨",
            "₨",
            "₨",
            "Lt",
            "Ls",
            "ден",
            "₮",
            "RM",
            "MT",
            "₦",
            "C$",
            "B/.",
            "S/.",
            "Php",
            "zł",
            "Gs",
            "lei",
            "Дин.",
            "руб",
            "S",
            "฿",
            "TL",
            "TT$",
            "NT$",
            "₴",
            "$U",
            "Bs",
            "₫",
            "R",
        ]
        + ["$"] * 22
    ),
    "bs_verb": tuple(
        [
            "implement",
            "utilize",
            "integrate",
            "streamline",
            "optimize",
            "evolve",
            "transform",
            "embrace",
            "enable",
            "orchestrate",
            "leverage",
            "reinvent",
            "aggregate",
            "architect",
            "enhance",
            "incentivize",
            "morph",
            "empower",
            "envisioneer",
            "monetize",
            "harness",
            "facilitate",
            "seize",
            "disintermediate",
            "synergize",
            "strategize",
            "deploy",
            "brand",
            "grow",
            "target",
            "syndicate",
            "synthesize",
            "deliver",
            "mesh",
            "incubate",
            "engage",
            "maximize",
            "benchmark",
            "expedite",
            "reintermediate",
            "whiteboard",
            "visualize",
            "repurpose",
            "innovate",
            "scale",
            "unleash",
            "drive",
            "extend",
            "engineer",
            "revolutionize",
            "generate",
            "exploit",
            "transition",
            "e-enable",
            "iterate",
            "cultivate",
            "matrix",
            "productize",
            "redefine",
            "recontextualize",
        ]
    ),
    "suffix": ("Jr.", "Sr.", "I", "II", "III", "IV", "V", "MD", "DDS", "PhD", "DVM"),
    "job_descriptor": tuple(
        [
            "Lead",
            "Senior",
            "Direct",
            "Corporate",
            "Dynamic",
            "Future",
            "Product",
            "National",
            "Regional",
            "District",
            "Central",
            "Global",
            "Customer",
            "Investor",
            "International",
            "Legacy",
            "Forward",
            "Internal",
            "Human",
            "Chief",
            "Principal",
        ]
    ),
    "job_area": tuple(
        [
            "Solutions",
            "Program",
            "Brand",
            "Security",
            "Research",
            "Marketing",
            "Directives",
            "Implementation",
            "Integration",
            "Functionality",
            "Response",
            "Paradigm",
            "Tactics",
            "Identity",
            "Markets",
            "Group",
            "Division",
            "Applications",
            "Optimization",
            "Operations",
            "Infrastructure",
            "Intranet",
            "Communications",
            "Web",
            "Branding",
            "Quality",
            "Assurance",
            "Mobility",
            "Accounts",
            "Data",
            "Creative",
            "Configuration",
            "Accountability",
            "Interactions",
            "Factors",
            "Usability",
            "Metrics",
        ]
    ),
    "job_type": tuple(
        [
            "Supervisor",
            "Associate",
            "Executive",
            "Liason",
            "Officer",
            "Manager",
            "Engineer",
            "Specialist",
            "Director",
            "Coordinator",
            "Administrator",
            "Architect",
            "Analyst",
            "Designer",
            "Planner",
            "Orchestrator",
            "Technician",
            "Developer",
            "Producer",
            "Consultant",
            "Assistant",
            "Facilitator",
            "Agent",
            "Representative",
            "Strategist",
        ]
    ),
    "city_prefix": ("North", "East", "West", "South", "New", "Lake", "Port"),
    "city_suffix": tuple(
        [
            "town",
            "ton",
            "land",
            "ville",
            "berg",
            "burgh",
            "borough",
            "bury",
            "view",
            "port",
            "mouth",
            "stad",
            "furt",
            "chester",
            "mouth",
            "fort",
            "haven",
            "side",
            "shire",
        ]
    ),
    "county": ("Avon", "Bedfordshire", "Berkshire", "Borders", "Buckinghamshire", "Cambridgeshire"),
    "state": tuple(
        "Alabama Alaska Arizona Arkansas California Colorado Connecticut Delaware Florida Georgia Hawaii Idaho Illinois "
        "Indiana Iowa Kansas Kentucky Louisiana Maine Maryland Massachusetts Michigan Minnesota Mississippi Missouri "
        "Montana Nebraska Nevada New_Hampshire New_Jersey New_Mexico New_York North_Carolina North_Dakota Ohio Oklahoma "
        "Oregon Pennsylvania Rhode_Island South_Carolina South_Dakota Tennessee Texas Utah Vermont Virginia Washington "
        "West_Virginia Wisconsin Wyoming".replace("_", "\0").split()
    ),
    "state_abbr": tuple(
        [
            "AL",
            "AK",
            "AZ",
            "AR",
            "CA",
            "CO",
            "CT",
            "DE",
            "FL",
            "GA",
            "HI",
            "ID",
            "IL",
            "IN",
            "IA",
            "KS",
            "KY",
            "LA",
            "ME",
            "MD",
            "MA",
            "MI",
            "MN",
            "MS",
            "MO",
            "MT",
            "NE",
            "NV",
            "NH",
            "NJ",
            "NM",
            "NY",
            "NC",
            "ND",
            "OH",
            "OK",
            "OR",
            "PA",
            "RI",
            "SC",
            "SD",
            "TN",
            "TX",
            "UT",
            "VT",
            "VA",
            "WA",
            "WV",
            "WI",
            "WY",
        ]
    ),
    "company_suffix": ("Inc", "and Sons", "LLC", "Group"),
    "free_email": ("gmail.com", "yahoo.com", "hotmail.com"),
    "example_email": ("example.org", "example.com", "example.net"),
    "domain_suffix": ("com", "biz", "info", "name", "net", "org"),
    "commerce_color": tuple(
        "red green blue yellow purple mint_green teal white black orange pink grey maroon violet turquoise tan sky_blue "
        "salmon plum orchid olive magenta lime ivory indigo gold fuchsia cyan azure lavender silver".replace("_", "\0").split()
    ),
    "department": tuple(
        [
            "Books",
            "Movies",
            "Music",
            "Games",
            "Electronics",
            "Computers",
            "Home",
            "Garden",
            "Tools",
            "Grocery",
            "Health",
            "Beauty",
            "Toys",
            "Kids",
            "Baby",
            "Clothing",
            "Shoes",
            "Jewelery",
            "Sports",
            "Outdoors",
            "Automotive",
            "Industrial",
        ]
    ),
    "product_adjective": tuple(
        [
            "Small",
            "Ergonomic",
            "Rustic",
            "Intelligent",
            "Gorgeous",
            "Incredible",
            "Fantastic",
            "Practical",
            "Sleek",
            "Awesome",
            "Generic",
            "Handcrafted",
            "Handmade",
            "Licensed",
            "Refined",
            "Unbranded",
            "Tasty",
        ]
    ),
    "product_material": tuple(
        ["Steel", "Wooden", "Concrete", "Plastic", "Cotton", "Granite", "Rubber", "Metal", "Soft", "Fresh", "Frozen"]
    ),
    "product": tuple(
        [
            "Chair",
            "Car",
            "Computer",
            "Keyboard",
            "Mouse",
            "Bike",
            "Ball",
            "Gloves",
            "Pants",
            "Shirt",
            "Table",
            "Shoes",
            "Hat",
            "Towels",
            "Soap",
            "Tuna",
            "Chicken",
            "Fish",
            "Cheese",
            "Bacon",
            "Pizza",
            "Salad",
            "Sausages",
            "Chips",
        ]
    ),
    "hacker_abbreviation": tuple(
        [
            "TCP",
            "HTTP",
            "SDD",
            "RAM",
            "GB",
            "CSS",
            "SSL",
            "AGP",
            "SQL",
            "FTP",
            "PCI",
            "AI",
            "ADP",
            "RSS",
            "XML",
            "EXE",
            "COM",
            "HDD",
            "THX",
            "SMTP",
            "SMS",
            "USB",
            "PNG",
            "SAS",
            "IB",
            "SCSI",
            "JSON",
            "XSS",
            "JBOD",
        ]
    ),
    "hacker_adjective": tuple(
        "auxiliary primary back-end digital open-source virtual cross-platform redundant online haptic multi-byte "
        "bluetooth wireless 1080p neural optical solid_state mobile".replace("_", "\0").split()
    ),
    "hacker_noun": tuple(
        "driver protocol bandwidth panel microchip program port card array interface system sensor firewall hard_drive "
        "pixel alarm feed monitor application transmitter bus circuit capacitor matrix".replace("_", "\0").split()
    ),
    "hacker_verb": tuple(
        "back_up bypass hack override compress copy navigate index connect generate quantify calculate synthesize input "
        "transmit program reboot parse".replace("_", "\0").split()
    ),
    "hacker_ingverb": tuple(
        "backing_up bypassing hacking overriding compressing copying navigating indexing connecting generating "
        "quantifying calculating synthesizing transmitting programming parsing".replace("_", "\0").split()
    ),
    "account_type": tuple(
        "Checking Savings Money_Market Investment Home_Loan Credit_Card Auto_Loan Personal_Loan".replace("_", "\0").split()
    ),
    "transaction_type": ("deposit", "withdrawal", "payment", "invoice"),
    "month": MONTHS,  # faker.js and moment (en) name months and weekdays alike
    "month_abbr": MONTH_ABBR,
    "weekday": WEEKDAYS,
    "weekday_abbr": WEEKDAY_ABBR,
    "phone_format": tuple(
        f"{base}{ext}"
        for ext in ("", " x###", " x####", " x#####")
        for base in ("###-###-####", "(###) ###-####", "1-###-###-####", "###.###.####") * (2 if ext == "" else 1)
    ),
    "image_category": tuple(
        [
            "abstract",
            "animals",
            "business",
            "cats",
            "city",
            "food",
            "nightlife",
            "fashion",
            "people",
            "nature",
            "sports",
            "technics",
            "transport",
        ]
    ),
    "file_type": ("application", "audio", "chemical", "font", "image", "message", "model", "multipart", "text", "video"),
    "common_file_ext": (
        "pdf",
        "mpga",
        "mp2",
        "mp2a",
        "m2a",
        "m3a",
        "mp3",
        "wav",
        "png",
        "jpeg",
        "jpg",
        "jpe",
        "gif",
        "mp4",
        "mp4v",
        "mpg4",
        "mpeg",
        "mpg",
        "mpe",
        "m1v",
        "m2v",
        "html",
        "htm",
    ),
    "file_ext": tuple(
        [
            "pdf",
            "zip",
            "json",
            "xml",
            "csv",
            "txt",
            "html",
            "htm",
            "css",
            "js",
            "png",
            "jpeg",
            "jpg",
            "gif",
            "svg",
            "mp3",
            "mp4",
            "wav",
            "avi",
            "mov",
            "doc",
            "docx",
            "xls",
            "xlsx",
            "ppt",
            "pptx",
            "odt",
            "ods",
            "rtf",
            "tar",
            "gz",
            "bz2",
            "7z",
            "exe",
            "dll",
            "bin",
            "iso",
            "dmg",
            "apk",
            "jar",
            "war",
            "ico",
            "bmp",
            "tiff",
            "webm",
            "ogg",
            "flac",
            "aac",
            "m4a",
            "mkv",
            "mpeg",
            "mpg",
        ]
    ),
    "locale": tuple(
        [
            "de",
            "de_AT",
            "de_CH",
            "en",
            "en_AU",
            "en_BORK",
            "en_CA",
            "en_GB",
            "en_IE",
            "en_IND",
            "en_US",
            "en_au_ocker",
            "es",
            "es_MX",
            "fa",
            "fr",
            "fr_CA",
            "ge",
            "id_ID",
            "it",
            "ja",
            "ko",
            "nb_NO",
            "nep",
            "nl",
            "pl",
            "pt_BR",
            "ru",
            "sk",
            "sv",
            "tr",
            "uk",
            "vi",
            "zh_CN",
            "zh_TW",
        ]
    ),
}
for _key in ("state", "commerce_color", "hacker_adjective", "hacker_noun", "hacker_verb", "hacker_ingverb", "account_type"):
    WORD_LISTS[_key] = tuple(w.replace("\0", " ") for w in WORD_LISTS[_key])

DIGIT = Pick(tuple("0123456789"))
ALPHA = tuple(string.ascii_uppercase)
ALPHANUMERIC = tuple(string.digits + string.ascii_lowercase)


# ---------------------------------------------------------------------------------------------
# faker.js building blocks (per record)


def js_random_number(rng: random.Random, options: JsValue = None) -> float:
    """faker.js 3.1 `random.number`: `precision * floor(mersenne.rand(max/precision, min/precision))`,
    where `max` is made inclusive by adding `precision` when it is >= 0. Non-numbers give NaN, as there."""
    if isinstance(options, bool):
        options = None
    if isinstance(options, (int, float)):
        options = {"max": options}
    if isinstance(options, str):  # faker.js sets properties on a string primitive: they vanish
        return math.nan
    if not isinstance(options, dict):
        options = {}
    minimum = options.get("min", 0)
    maximum = options.get("max", 99999)
    precision = options.get("precision", 1)
    # `if (max >= 0) max += precision`: `+` joins as text when either side is a string or an object.
    top = _js_add(maximum, precision) if _to_number(maximum) >= 0 else maximum
    with np.errstate(all="ignore"):
        step = _to_number(precision)
        hi, lo = _div(_to_number(top), step), _div(_to_number(minimum), step)
        drawn = rng.random() * (hi - lo) + lo  # mersenne.rand: IEEE arithmetic, so inf - inf and 0 * inf are NaN
        return _mul(step, math.floor(drawn) if math.isfinite(drawn) else drawn)


def _js_add(left: JsValue, right: JsValue) -> JsValue:
    """JavaScript's `left + right` for JSON values: text joined when either is a string, array or object."""
    if isinstance(left, (str, list, tuple, dict)) or isinstance(right, (str, list, tuple, dict)):
        return js_string(left) + js_string(right)
    return _to_number(left) + _to_number(right)


# JavaScript's StringToNumber grammar (after trimming): decimal with optional sign, or 0x/0o/0b integers.
_JS_DECIMAL = re.compile(r"[+-]?(Infinity|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)")
_JS_RADIX = re.compile(r"0([xX][0-9a-fA-F]+|[oO][0-7]+|[bB][01]+)")


def _to_number(value: JsValue) -> float:
    """JavaScript's Number() for what JSON can hold: an array is `Number(String(array))` ([5] is 5,
    [] is 0, [1,2] NaN), an object NaN."""
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, float):
        return value
    if isinstance(value, int):
        return float(value) if abs(value) < 2**1024 else math.copysign(math.inf, value)
    if isinstance(value, (list, tuple)):
        return _to_number(js_string(value))
    if isinstance(value, str):
        text = value.strip(" \t\n\r\v\f\u00a0\ufeff\u2028\u2029")
        if text == "":
            return 0.0
        if _JS_DECIMAL.fullmatch(text):
            return float(text)
        if _JS_RADIX.fullmatch(text):
            return float(int(text, 0))
        return math.nan
    return math.nan


def _div(a: float, b: float) -> float:
    if b == 0:
        return math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a)
    return a / b


def _mul(a: float, b: float) -> float:
    if (math.isinf(a) and b == 0) or (math.isinf(b) and a == 0):
        return math.nan
    return a * b


def js_number_in(rng: random.Random, maximum: int) -> int:
    return math.floor(rng.random() * (maximum + 1))


def pick(rng: random.Random, name: str) -> str:
    choices = words(name)
    return choices[int(rng.random() * len(choices))]


def replace_symbol_with_number(rng: random.Random, text: JsValue, symbol: str = "#") -> str:
    text = text if isinstance(text, str) and text else ""
    return "".join(str(js_number_in(rng, 9)) if c == symbol else c for c in text)


def replace_symbols(rng: random.Random, text: JsValue) -> str:
    text = text if isinstance(text, str) and text else ""
    return "".join(str(js_number_in(rng, 9)) if c == "#" else ALPHA[int(rng.random() * 26)] if c == "?" else c for c in text)


def js_round(value: float) -> float:
    """JavaScript's Math.round: halves go up; NaN and infinities stay as they are."""
    return float(math.floor(value + 0.5)) if math.isfinite(value) else value


def to_fixed(value: float, decimals: int) -> str:
    """JavaScript's `Number.prototype.toFixed`: NaN and huge values as `toString` prints them, and
    negative zero without its sign (`(-0).toFixed(4)` is "0.0000")."""
    if not math.isfinite(value):
        return js_number(value)
    if abs(value) >= 1e21:
        return js_number(value)
    if value == 0:
        value = 0.0
    return f"{value:.{decimals}f}"


def first_name(rng: random.Random) -> str:
    return pick(rng, "first_name")


def last_name(rng: random.Random) -> str:
    return pick(rng, "last_name")


def find_name(rng: random.Random) -> str:
    branch = js_number_in(rng, 8)
    js_number_in(rng, 1)  # gender
    first, last = first_name(rng), last_name(rng)
    if branch == 0:
        return f"{pick(rng, 'prefix')} {first} {last}"
    if branch == 1:
        return f"{first} {last} {pick(rng, 'suffix')}"
    return f"{first} {last}"


def city(rng: random.Random, arg: JsValue = None) -> str:
    branch = int(arg) if isinstance(arg, (int, float)) and not isinstance(arg, bool) and 0 <= arg <= 3 else js_number_in(rng, 3)
    if branch == 0:
        return f"{pick(rng, 'city_prefix')} {first_name(rng)}{pick(rng, 'city_suffix')}"
    if branch == 1:
        return f"{pick(rng, 'city_prefix')} {first_name(rng)}"
    if branch == 2:
        return f"{first_name(rng)}{pick(rng, 'city_suffix')}"
    return f"{last_name(rng)}{pick(rng, 'city_suffix')}"


def street_name(rng: random.Random) -> str:
    suffix = pick(rng, "street_suffix")
    return (last_name(rng) if js_number_in(rng, 1) == 0 else first_name(rng)) + (" " + suffix if suffix else "")


def secondary_address(rng: random.Random) -> str:
    return replace_symbol_with_number(rng, "Apt. ###" if js_number_in(rng, 1) == 0 else "Suite ###")


def street_address(rng: random.Random, full: JsValue = None) -> str:
    width = (5, 4, 3)[js_number_in(rng, 2)]
    address = replace_symbol_with_number(rng, "#" * width) + " " + street_name(rng)
    return address + " " + secondary_address(rng) if full else address


def user_name(rng: random.Random, first: JsValue = None, last: JsValue = None) -> str:
    first = first if isinstance(first, str) and first else first_name(rng)
    last = last if last else last_name(rng)
    branch = js_number_in(rng, 2)
    if branch == 0:
        result = f"{first}{js_number_in(rng, 99)}"
    elif branch == 1:
        result = f"{first}{'._'[js_number_in(rng, 1)]}{last}"
    else:
        result = f"{first}{'._'[js_number_in(rng, 1)]}{last}{js_number_in(rng, 99)}"
    return result.replace("'", "").replace(" ", "")


def slugify(text: JsValue) -> str:
    text = text if isinstance(text, str) and text else ""
    return re.sub(r"[^\w.\-]+", "", text.replace(" ", "-"), flags=re.ASCII)


def email(rng: random.Random, first: JsValue = None, provider: str | None = None) -> str:
    provider = provider or pick(rng, "free_email")
    return slugify(user_name(rng, first)) + "@" + provider


def domain_word(rng: random.Random) -> str:
    return re.sub(r"[\\~#&*{}/:<>?|\"']", "", first_name(rng)).lower()


def lorem_words(rng: random.Random, count: JsValue = None) -> str:
    n = 3 if count is None else _count(count)
    return " ".join(pick(rng, "lorem") for _ in range(n))


MAX_REPEAT = 100_000  # words, sentences, digits...: more would hang the KDG's page; here it is refused


def _count(value: JsValue) -> int:
    """A JavaScript loop bound `i < value`: numbers count, anything else (a string, NaN) is 0 rounds."""
    if isinstance(value, bool):
        return int(value)
    number = _to_number(value)  # `i < [3]` loops 3 times, `i < {}` never
    if number > MAX_REPEAT:
        raise UsageError(f"a count of {js_string(value)} is above {MAX_REPEAT:,} (the KDG's page would hang on it)")
    return max(0, math.ceil(number)) if math.isfinite(number) else 0


def sentence(rng: random.Random, word_count: JsValue = None) -> str:
    if word_count is None:
        word_count = 3 + js_number_in(rng, 7)
    text = lorem_words(rng, word_count)
    return text[:1].upper() + text[1:] + "."


def sentences(rng: random.Random, count: JsValue = None, separator: str = " ") -> str:
    if count is None:
        count = 2 + js_number_in(rng, 4)
    return separator.join(sentence(rng) for _ in range(_count(count)))


def paragraph(rng: random.Random, count: JsValue = None) -> str:
    base = 3 if count is None else count
    extra = js_number_in(rng, 3)
    if isinstance(base, str):  # JavaScript: "2" + 1 is "21"
        return sentences(rng, base + str(extra))
    return sentences(rng, _to_number(base) + extra)


def paragraphs(rng: random.Random, count: JsValue = None) -> str:
    return "\n \r".join(paragraph(rng) for _ in range(3 if count is None else _count(count)))


def random_word(rng: random.Random) -> str:
    return WORD_METHODS[int(rng.random() * len(WORD_METHODS))](rng)


def random_words(rng: random.Random, count: JsValue = None) -> str:
    if count is None:
        count = 1 + js_number_in(rng, 2)
    return " ".join(random_word(rng) for _ in range(_count(count)))


def product_name(rng: random.Random) -> str:
    return f"{pick(rng, 'product_adjective')} {pick(rng, 'product_material')} {pick(rng, 'product')}"


def amount(rng: random.Random, minimum: JsValue = None, maximum: JsValue = None, decimals: int = 2, symbol: str = "") -> str:
    """faker.js finance.amount / commerce.price: `symbol + round(value, dec).toFixed(dec)`."""
    low = minimum if minimum else 0
    high = maximum if maximum else 1000
    value = js_random_number(rng, {"max": high, "min": low})
    if isinstance(value, float) and not math.isfinite(value):
        return symbol + js_number(value)
    return symbol + to_fixed(js_round(value * 10**decimals) / 10**decimals, decimals)


def price(rng: random.Random, minimum: JsValue = None) -> str:
    low = minimum if minimum is not None else 1
    low_number = _to_number(low) if not isinstance(low, (dict, list)) else math.nan
    if low_number < 0:
        return "0"  # faker.js: symbol + 0.00
    value = js_random_number(rng, {"max": 1000, "min": low})
    if isinstance(value, float) and not math.isfinite(value):
        return js_number(value)
    return to_fixed(js_round(value * 100) / 100, 2)


def company_name(rng: random.Random, arg: JsValue = None) -> str:
    branch = int(arg) if isinstance(arg, (int, float)) and not isinstance(arg, bool) and 0 <= arg <= 2 else js_number_in(rng, 2)
    if branch == 0:
        return f"{last_name(rng)} {pick(rng, 'company_suffix')}"
    if branch == 1:
        return f"{last_name(rng)} - {last_name(rng)}"
    return f"{last_name(rng)}, {last_name(rng)} and {last_name(rng)}"


HACKER_PHRASES = (
    "If we {{verb}} the {{noun}}, we can get to the {{abbreviation}} {{noun}} through the {{adjective}} {{abbreviation}} {{noun}}!",
    "We need to {{verb}} the {{adjective}} {{abbreviation}} {{noun}}!",
    "Try to {{verb}} the {{abbreviation}} {{noun}}, maybe it will {{verb}} the {{adjective}} {{noun}}!",
    "You can't {{verb}} the {{noun}} without {{ingverb}} the {{adjective}} {{abbreviation}} {{noun}}!",
    "Use the {{adjective}} {{abbreviation}} {{noun}}, then you can {{verb}} the {{adjective}} {{noun}}!",
    "The {{abbreviation}} {{noun}} is down, {{verb}} the {{adjective}} {{noun}} so we can {{verb}} the {{abbreviation}} {{noun}}!",
    "{{ingverb}} the {{noun}} won't do anything, we need to {{verb}} the {{adjective}} {{abbreviation}} {{noun}}!",
    "I'll {{verb}} the {{adjective}} {{abbreviation}} {{noun}}, that should {{noun}} the {{abbreviation}} {{noun}}!",
)


def hacker_phrase(rng: random.Random) -> str:
    # faker.js's mustache replaces every occurrence of a key with ONE draw of it.
    phrase = HACKER_PHRASES[int(rng.random() * len(HACKER_PHRASES))]
    for key in ("abbreviation", "adjective", "ingverb", "noun", "verb"):
        phrase = phrase.replace("{{" + key + "}}", pick(rng, "hacker_" + key))
    return phrase


def past(rng: random.Random, now: float, years: JsValue, sign: int, unit_days: int = 365) -> JsDate:
    """faker.js date.past/future/recent: now -/+ number({min: 1000, max: (years || 1) * unit}) ms;
    a non-number (`date.past(abc)`) makes NaN, which prints `Invalid Date` as there."""
    count = _to_number(years) if _js_truthy(years) else 1.0  # `(years || 1) * ...`: [2] is 2, [] is 0, {} NaN
    span = count * unit_days * 24 * 3600 * 1000
    if not math.isfinite(span):
        return JsDate(math.nan)
    offset = js_random_number(rng, {"min": 1000, "max": span})
    return JsDate(now * 1000 + sign * offset)


def date_between(rng: random.Random, arg: JsValue) -> JsDate:
    # faker.fake passes one argument: `from`; `to` is undefined, so the offset is NaN -> Invalid Date.
    return JsDate(math.nan)


def image_url(rng: random.Random, width: JsValue = None, category: str | None = None) -> str:
    url = f"http://lorempixel.com/{js_string(width) if width else 640}/480"
    return url + f"/{category}" if category is not None else url


def password(rng: random.Random, length: JsValue = None) -> str:
    """faker.js's password-generator, not memorable: characters matching /\\w/ (letters, digits, _)."""
    size = _count(length) if _js_truthy(length) else 15
    pool = string.ascii_letters + string.digits + "_"
    return "".join(pool[int(rng.random() * len(pool))] for _ in range(size))


def user_agent(rng: random.Random) -> str:
    """A browser user agent, in the shape of faker.js's vendor `user-agent` generator."""
    version = f"{js_number_in(rng, 40) + 10}.{js_number_in(rng, 9)}"
    webkit = f"{js_number_in(rng, 100) + 500}.{js_number_in(rng, 9)}.{js_number_in(rng, 9)}"
    branch = js_number_in(rng, 3)
    if branch == 0:
        return f"Mozilla/5.0 (Windows NT {5 + js_number_in(rng, 1)}.{js_number_in(rng, 3)}; rv:{version}) Gecko/20100101 Firefox/{version}"
    if branch == 1:
        return (
            f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_{js_number_in(rng, 10)}_{js_number_in(rng, 9)}) AppleWebKit/{webkit} "
            f"(KHTML, like Gecko) Chrome/{version}.0.{js_number_in(rng, 999)}.0 Safari/{webkit}"
        )
    if branch == 2:
        return f"Mozilla/5.0 (compatible; MSIE {js_number_in(rng, 5) + 6}.0; Windows NT {5 + js_number_in(rng, 1)}.{js_number_in(rng, 3)}; Trident/{js_number_in(rng, 3) + 4}.0)"
    return f"Opera/9.{js_number_in(rng, 80) + 10} (Windows NT {5 + js_number_in(rng, 1)}.{js_number_in(rng, 3)}; U; en) Presto/2.{js_number_in(rng, 9)}.{js_number_in(rng, 300)} Version/{version}"


def hex_color(rng: random.Random, base: JsValue = None) -> str:
    """faker.js internet.color: each channel floor((number(256) + base) / 2); only the red base can be passed."""
    red_base = _to_number(base) if base else 0.0
    channels = [math.floor((js_number_in(rng, 256) + red_base) / 2) if math.isfinite(red_base) else math.nan]
    channels += [math.floor(js_number_in(rng, 256) / 2) for _ in range(2)]
    return "#" + "".join("NaN" if isinstance(c, float) else format(c, "x").zfill(2) for c in channels)


def uuid(rng: random.Random) -> str:
    """faker.js random.uuid: 'xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx' with y in 8-b (an RFC 4122 version 4)."""
    return str(uuid_module.UUID(int=rng.getrandbits(128), version=4))


def _js_truthy(value: JsValue) -> bool:
    """JavaScript's truthiness (`a || b`): an empty array or object is true; 0, NaN and "" are false."""
    if isinstance(value, (list, dict)):
        return True
    if isinstance(value, float) and math.isnan(value):
        return False
    return bool(value)


def _js_element(value: JsValue, index: int) -> float:
    """`value[index]` used as a number in JavaScript: an array's element, a string's character, an
    object's property; NaN (undefined) where there is none, as on a number or a boolean."""
    if isinstance(value, (list, str)) and index < len(value):
        return _to_number(value[index])
    if isinstance(value, dict) and str(index) in value:
        return _to_number(value[str(index)])
    return math.nan


def _js_math(function: Callable[..., float], *args: float) -> float:
    """A Math function as JavaScript has it: NaN where Python's raises (asin(1.0000000000000002), sin(inf))."""
    try:
        return function(*args)
    except ValueError:
        return math.nan


def nearby_gps(rng: random.Random, arg: JsValue) -> list[str]:
    """The KDG's `address.nearbyGPSCoordinate({coordinate, radius, isMetric})`, step by step as its
    faker.js computes it: the default coordinate is `[latitude(), longitude()]` (text, toFixed(4)), a
    value it cannot read a number from gives NaN (printed "NaN", never an error), and `||` falls back
    on JavaScript's falsy values only."""
    options = arg if isinstance(arg, dict) else {}
    coordinate = options.get("coordinate")
    if not _js_truthy(coordinate):
        coordinate = [
            to_fixed(js_random_number(rng, 1800000) / 10000.0 - 90.0, 4),
            to_fixed(js_random_number(rng, 3600000) / 10000.0 - 180.0, 4),
        ]
    radius = options.get("radius") if _js_truthy(options.get("radius")) else 10.0
    distance = _to_number(radius) if _js_truthy(options.get("isMetric")) else _to_number(radius) * 0.621371
    lat1 = math.radians(_js_element(coordinate, 0))
    lon1 = math.radians(_js_element(coordinate, 1))
    bearing = math.radians(rng.random() * 360)
    angular = distance / 6378.137
    sin_a, cos_a = _js_math(math.sin, angular), _js_math(math.cos, angular)
    sin_lat1, cos_lat1 = _js_math(math.sin, lat1), _js_math(math.cos, lat1)
    lat2 = _js_math(math.asin, sin_lat1 * cos_a + cos_lat1 * sin_a * math.cos(bearing))
    lon2 = lon1 + math.atan2(math.sin(bearing) * sin_a * cos_lat1, cos_a - sin_lat1 * _js_math(math.sin, lat2))
    if lon2 > math.pi:
        lon2 -= 2 * math.pi
    elif lon2 < -math.pi:
        lon2 += 2 * math.pi
    return [to_fixed(math.degrees(lat2), 4), to_fixed(math.degrees(lon2), 4)]


def _card(rng: random.Random) -> JsObject:
    return JsObject()


WORD_METHODS: tuple[Callable[[random.Random], str], ...] = (
    lambda r: pick(r, "department"),
    product_name,
    lambda r: pick(r, "product_adjective"),
    lambda r: pick(r, "product_material"),
    lambda r: pick(r, "product"),
    lambda r: pick(r, "commerce_color"),
    lambda r: pick(r, "catch_adjective"),
    lambda r: pick(r, "catch_descriptor"),
    lambda r: pick(r, "catch_noun"),
    lambda r: pick(r, "bs_adjective"),
    lambda r: pick(r, "bs_verb"),
    lambda r: pick(r, "bs_noun"),
    lambda r: pick(r, "street_suffix"),
    lambda r: pick(r, "county"),
    lambda r: pick(r, "country"),
    lambda r: pick(r, "state"),
    lambda r: pick(r, "account_type") + " Account",
    lambda r: pick(r, "transaction_type"),
    lambda r: pick(r, "currency_name"),
    lambda r: pick(r, "hacker_noun"),
    lambda r: pick(r, "hacker_verb"),
    lambda r: pick(r, "hacker_adjective"),
    lambda r: pick(r, "hacker_ingverb"),
    lambda r: pick(r, "hacker_abbreviation"),
    lambda r: pick(r, "job_descriptor"),
    lambda r: pick(r, "job_area"),
    lambda r: pick(r, "job_type"),
)


# ---------------------------------------------------------------------------------------------
# The registry: helper name -> builder(argument) -> Draw


def _each(function: Callable[[random.Random, JsValue], JsResult]) -> Callable[[JsValue], Draw]:
    """A helper computed per record from (rng, argument)."""
    return lambda arg: Each(lambda r, now: function(r, arg))


@cache
def _shared_pick(name: str) -> Pick:
    return Pick(words(name))


def _pick(name: str) -> Callable[[JsValue], Draw]:
    """One `Pick` per word list, shared by every field that uses it (one byte table each)."""
    return lambda arg: _shared_pick(name)


def _ip(arg: JsValue) -> Draw:
    octet = Pick(tuple(str(n) for n in range(256)))
    return Join((octet, ".", octet, ".", octet, ".", octet))


def _mac(arg: JsValue) -> Draw:
    nibble = Pick(tuple("0123456789abcdef"))
    parts: list[Draw | str] = []
    for i in range(12):
        parts.append(nibble)
        if i % 2 == 1 and i != 11:
            parts.append(":")
    return Join(tuple(parts))


def _zip(arg: JsValue) -> Draw:
    if arg is None:
        return Each(lambda r, now: replace_symbols(r, ("#####", "#####-####")[js_number_in(r, 1)]))
    return Each(lambda r, now: replace_symbols(r, arg))


def _number(arg: JsValue) -> Draw:
    return Each(lambda r, now: js_random_number(r, arg))


def _account(arg: JsValue) -> Draw:
    width = _count(arg) if arg else 8
    return digits(width) if width <= 64 else Each(lambda r, now: replace_symbol_with_number(r, "#" * width))


def _mask(arg: JsValue) -> Draw:
    # faker.fake passes one argument: `parens` and `elipsis` stay undefined (falsy), so digits only.
    width = _count(arg) if arg and arg != 0 else 4
    return Join((DIGIT,) * min(width, 256)) if width else Pick(("",))


def _month(arg: JsValue) -> Draw:
    return Pick(words("month_abbr" if isinstance(arg, dict) and arg.get("abbr") else "month"))


def _weekday(arg: JsValue) -> Draw:
    return Pick(words("weekday_abbr" if isinstance(arg, dict) and arg.get("abbr") else "weekday"))


def _date_offset(sign: int, unit_days: int) -> Callable[[JsValue], Draw]:
    return lambda arg: Each(lambda r, now: past(r, now, arg, sign, unit_days))


def _image(category: str | None) -> Callable[[JsValue], Draw]:
    return lambda arg: Each(lambda r, now: image_url(r, arg, category))


def _any_image(arg: JsValue) -> Draw:
    return Each(lambda r, now: image_url(r, arg, pick(r, "image_category")))


def _phone(arg: JsValue) -> Draw:
    if isinstance(arg, str) and arg:
        return Each(lambda r, now: replace_symbol_with_number(r, arg))
    return Each(lambda r, now: replace_symbol_with_number(r, pick(r, "phone_format")))


def _phone_format(arg: JsValue) -> Draw:
    formats = words("phone_format")
    index = int(arg) if isinstance(arg, (int, float)) and not isinstance(arg, bool) and 0 <= arg < len(formats) else None
    if not arg:  # faker.js: `index || 0`
        index = 0
    if index is None:  # faker.js: formats[out of range] -> replaceSymbolWithNumber(undefined) -> ""
        return Pick(("",))
    return Each(lambda r, now: replace_symbol_with_number(r, formats[index]))


def _array_element(arg: JsValue) -> Draw:
    if isinstance(arg, list) and arg:
        return Pick(tuple("null" if v is None else js_string(v) for v in arg))  # JSON null prints as null
    if isinstance(arg, str) and arg:  # a string is indexed by character
        return Pick(tuple(arg))
    if arg is None:
        return Pick(("a", "b", "c"))
    return Pick(("undefined",))


def _object_element(arg: JsValue) -> Draw:
    source = arg if isinstance(arg, dict) and arg else {"foo": "bar", "too": "car"}
    return Pick(tuple("null" if v is None else js_string(v) for v in source.values()))


def _file_name(arg: JsValue) -> Draw:
    def make(r: random.Random, now: float) -> str:
        text = f"{random_words(r)}.{pick(r, 'file_ext')}"
        return re.sub(r"[ ,\-\\]", "_", text).lower()

    return Each(make)


def _common_file_name(arg: JsValue) -> Draw:
    def make(r: random.Random, now: float) -> str:
        ext = arg if isinstance(arg, str) and arg else pick(r, "common_file_ext")
        return re.sub(r"[ ,\-\\]", "_", f"{random_words(r)}.{ext}").lower()

    return Each(make)


def _semver(arg: JsValue) -> Draw:
    return Join((DIGIT, ".", DIGIT, ".", DIGIT))


def _shuffle(arg: JsValue) -> Draw:
    def make(r: random.Random, now: float) -> list[JsValue]:
        items: list[JsValue] = list(arg) if isinstance(arg, list) and arg else ["a", "b", "c"]
        i = len(items) - 1
        while i:
            j = js_number_in(r, i)
            i -= 1
            items[i], items[j] = items[j], items[i]
        return items

    return Each(make)


def _need(
    helper: str, check: Callable[[JsValue], bool], what: str, build: Callable[[JsValue], Draw], thrown: str = "a TypeError"
) -> Callable[[JsValue], Draw]:
    """A method faker.js cannot run without a particular argument (there it throws `thrown`)."""

    def builder(arg: JsValue) -> Draw:
        if not check(arg):
            raise UsageError(f"template: {helper} needs {what} (faker.js throws {thrown} without it)")
        return build(arg)

    return builder


HELPERS: dict[str, Callable[[JsValue], Draw]] = {
    # address
    "address.zipCode": _zip,
    "address.city": lambda arg: Each(lambda r, now: city(r, arg)),
    "address.cityPrefix": _pick("city_prefix"),
    "address.citySuffix": _pick("city_suffix"),
    "address.streetName": _each(lambda r, a: street_name(r)),
    "address.streetAddress": _each(street_address),
    "address.streetSuffix": _pick("street_suffix"),
    "address.streetPrefix": lambda arg: Pick(("a", "b", "c")),  # en has no street_prefix: arrayElement's default
    "address.secondaryAddress": _each(lambda r, a: secondary_address(r)),
    "address.county": _pick("county"),
    "address.country": _pick("country"),
    "address.countryCode": _pick("country_code"),
    "address.state": _pick("state"),
    "address.stateAbbr": _pick("state_abbr"),
    "address.latitude": _each(lambda r, a: to_fixed(js_random_number(r, 1800000) / 10000.0 - 90.0, 4)),
    "address.longitude": _each(lambda r, a: to_fixed(js_random_number(r, 3600000) / 10000.0 - 180.0, 4)),
    "address.nearbyGPSCoordinate": _need(
        "address.nearbyGPSCoordinate",
        lambda a: isinstance(a, dict),
        "an object argument",
        lambda a: Each(lambda r, now: nearby_gps(r, a)),
    ),
    # commerce
    "commerce.color": _pick("commerce_color"),
    "commerce.department": _pick("department"),
    "commerce.productName": _each(lambda r, a: product_name(r)),
    "commerce.price": _each(price),
    "commerce.productAdjective": _pick("product_adjective"),
    "commerce.productMaterial": _pick("product_material"),
    "commerce.product": _pick("product"),
    # company
    "company.suffixes": lambda arg: Pick((",".join(words("company_suffix")),)),
    "company.companyName": lambda arg: Each(lambda r, now: company_name(r, arg)),
    "company.companySuffix": _pick("company_suffix"),
    "company.catchPhrase": _each(
        lambda r, a: f"{pick(r, 'catch_adjective')} {pick(r, 'catch_descriptor')} {pick(r, 'catch_noun')}"
    ),
    "company.bs": _each(lambda r, a: f"{pick(r, 'bs_adjective')} {pick(r, 'bs_verb')} {pick(r, 'bs_noun')}"),
    "company.catchPhraseAdjective": _pick("catch_adjective"),
    "company.catchPhraseDescriptor": _pick("catch_descriptor"),
    "company.catchPhraseNoun": _pick("catch_noun"),
    "company.bsAdjective": _pick("bs_adjective"),
    "company.bsBuzz": _pick("bs_verb"),
    "company.bsNoun": _pick("bs_noun"),
    # date (date.now, date.utc and date.simTime are moment formats: see kdg/__init__.py)
    "date.past": _date_offset(-1, 365),
    "date.future": _date_offset(+1, 365),
    "date.recent": _date_offset(-1, 1),
    "date.between": _each(date_between),
    "date.month": _month,
    "date.weekday": _weekday,
    # finance
    "finance.account": _account,
    "finance.accountName": _each(lambda r, a: pick(r, "account_type") + " Account"),
    "finance.mask": _mask,
    "finance.amount": _each(lambda r, a: amount(r, a)),
    "finance.transactionType": _pick("transaction_type"),
    "finance.currencyCode": _pick("currency_code"),
    "finance.currencyName": _pick("currency_name"),
    "finance.currencySymbol": _pick("currency_symbol"),
    "finance.bitcoinAddress": _each(
        lambda r, a: (
            "13"[js_number_in(r, 1)] + "".join(ALPHANUMERIC[js_number_in(r, 35)].upper() for _ in range(26 + js_number_in(r, 7)))
        )
    ),
    # hacker
    "hacker.abbreviation": _pick("hacker_abbreviation"),
    "hacker.adjective": _pick("hacker_adjective"),
    "hacker.noun": _pick("hacker_noun"),
    "hacker.verb": _pick("hacker_verb"),
    "hacker.ingverb": _pick("hacker_ingverb"),
    "hacker.phrase": _each(lambda r, a: hacker_phrase(r)),
    # helpers
    "helpers.randomize": _array_element,
    "helpers.slugify": lambda arg: Pick((slugify(js_string(arg) if arg else ""),)),
    "helpers.replaceSymbolWithNumber": _each(lambda r, a: replace_symbol_with_number(r, a)),
    "helpers.replaceSymbols": _each(replace_symbols),
    "helpers.shuffle": _shuffle,
    "helpers.mustache": lambda arg: Pick(("" if arg is None else js_string(arg),)),
    "helpers.createCard": _each(lambda r, a: _card(r)),
    "helpers.contextualCard": _each(lambda r, a: _card(r)),
    "helpers.userCard": _each(lambda r, a: _card(r)),
    "helpers.createTransaction": _each(lambda r, a: _card(r)),
    # image
    "image.image": _any_image,
    "image.avatar": _each(lambda r, a: f"https://s3.amazonaws.com/uifaces/faces/twitter/{domain_word(r)}/128.jpg"),
    "image.imageUrl": _image(None),
    **{f"image.{c}": _image(c) for c in WORD_LISTS["image_category"]},
    # internet
    "internet.avatar": _each(lambda r, a: f"https://s3.amazonaws.com/uifaces/faces/twitter/{domain_word(r)}/128.jpg"),
    "internet.email": _each(lambda r, a: email(r, a)),
    "internet.exampleEmail": _each(lambda r, a: email(r, a, pick(r, "example_email"))),
    "internet.userName": _each(user_name),
    "internet.protocol": lambda arg: Pick(("http", "https")),
    "internet.url": _each(lambda r, a: f"{('http', 'https')[js_number_in(r, 1)]}://{domain_word(r)}.{pick(r, 'domain_suffix')}"),
    "internet.domainName": _each(lambda r, a: f"{domain_word(r)}.{pick(r, 'domain_suffix')}"),
    "internet.domainSuffix": _pick("domain_suffix"),
    "internet.domainWord": _each(lambda r, a: domain_word(r)),
    "internet.ip": _ip,
    "internet.userAgent": _each(lambda r, a: user_agent(r)),
    "internet.color": _each(hex_color),
    "internet.mac": _mac,
    "internet.password": _need(
        "internet.password",
        lambda a: not _js_truthy(a) or math.isfinite(_to_number(a)),
        "a finite number for its length",
        lambda a: Each(lambda r, now: password(r, a)),
        "a RangeError, its generator's stack overflowing,",
    ),
    "internet.session": _each(lambda r, a: r.random() * (2**53 - 1 - 1007199254740991) + 1007199254740991),
    # lorem
    "lorem.word": _pick("lorem"),
    "lorem.words": _each(lorem_words),
    "lorem.sentence": _each(sentence),
    "lorem.sentences": _each(sentences),
    "lorem.paragraph": _each(paragraph),
    "lorem.paragraphs": _each(paragraphs),
    "lorem.text": _each(
        lambda r, a: (
            lambda k: (
                pick(r, "lorem"),
                lorem_words(r),
                sentence(r),
                sentences(r),
                paragraph(r),
                paragraphs(r),
                sentences(r, 1 + js_number_in(r, 4), "\n"),
            )[k]
        )(js_number_in(r, 6))
    ),
    "lorem.lines": _each(lambda r, a: sentences(r, (1 + js_number_in(r, 4)) if a is None else a, "\n")),
    # name
    "name.firstName": _pick("first_name"),
    "name.lastName": _pick("last_name"),
    "name.findName": _each(lambda r, a: find_name(r)),
    "name.jobTitle": lambda arg: Join(
        (Pick(words("job_descriptor")), " ", Pick(words("job_area")), " ", Pick(words("job_type")))
    ),
    "name.prefix": _pick("prefix"),
    "name.suffix": _pick("suffix"),
    "name.title": lambda arg: Join((Pick(words("job_descriptor")), " ", Pick(words("job_area")), " ", Pick(words("job_type")))),
    "name.jobDescriptor": _pick("job_descriptor"),
    "name.jobArea": _pick("job_area"),
    "name.jobType": _pick("job_type"),
    # phone
    "phone.phoneNumber": _phone,
    "phone.phoneNumberFormat": _phone_format,
    "phone.phoneFormats": _pick("phone_format"),
    # random
    "random.number": _number,
    "random.arrayElement": _array_element,
    "random.objectElement": _object_element,
    "random.uuid": _each(lambda r, a: uuid(r)),
    "random.boolean": lambda arg: Pick(("false", "true")),
    "random.word": _each(lambda r, a: random_word(r)),
    "random.words": _each(random_words),
    "random.image": _any_image,
    "random.locale": _pick("locale"),
    "random.alphaNumeric": lambda arg: Pick(ALPHANUMERIC),
    # system
    "system.fileName": _file_name,
    "system.commonFileName": _common_file_name,
    "system.mimeType": _pick("mime_type"),
    "system.commonFileType": lambda arg: Pick(("video", "audio", "image", "text", "application")),
    "system.commonFileExt": _pick("common_file_ext"),
    "system.fileType": _pick("file_type"),
    "system.fileExt": _pick("file_ext"),
    "system.directoryPath": lambda arg: Pick(("undefined",)),  # faker.js 3.1: an empty function
    "system.filePath": lambda arg: Pick(("undefined",)),
    "system.semver": _semver,
}


def compile_helper(helper: str, argument: JsValue) -> Draw:
    """The draw for `{{helper(argument)}}`; an unknown helper is a `UsageError` naming it."""
    builder = HELPERS.get(helper)
    if builder is None:
        module = helper.split(".")[0]
        known = sorted({name.split(".")[0] for name in HELPERS} | {"date"})
        where = f"faker.js has no module {module!r}" if module not in known else f"faker.js's {module} module has no such method"
        raise UsageError(f"template: unsupported helper {helper!r} ({where})")
    return builder(argument)


def sample(helper: str, argument: JsValue, count: int, *, seed: int = 0, now: float | None = None) -> list[str]:
    """`count` values of a helper, as the generator renders them (tests and the differential test)."""
    times = np.full(count, datetime.now(timezone.utc).timestamp() if now is None else now)
    return compile_helper(helper, argument).values(random.Random(seed), count, times)


def helper_names() -> Sequence[str]:
    return tuple(HELPERS)
