"""Dates and times as readers of each publication language expect them (Babel).

The patterns are kept here, per language ('fr' first), so a new publication language is one
entry: the reference letter writes "16 décembre 2024", "mardi 14 janvier, 14h00–15h00".
"""

from __future__ import annotations

import datetime as dt

from babel.dates import format_date, format_time

__all__ = ["DATE_FORMATS", "format_date_range", "format_day", "format_event", "format_long",
           "format_masthead", "format_time_range"]

DATE_FORMATS: dict[str, dict[str, str]] = {
    "fr": {
        "long": "d MMMM y",              # 16 décembre 2024
        "day": "EEEE d MMMM",            # mardi 14 janvier
        "day_year": "EEEE d MMMM y",     # jeudi 16 janvier 2025
        "time": "HH'h'mm",               # 14h00
        "time_range": "{start}–{end}",   # 14h00–15h00
        "event": "{day}, {times}",       # mardi 14 janvier, 14h00–15h00
        "first": "d'er'",                # 1er décembre 2020, never "1 décembre"
        "day_month": "d MMMM",           # 30 novembre
        "range_days": "{start} et {end}",            # 3 et 4 décembre 2020
        "range_same_month": "du {start} au {end}",   # du 3 au 7 décembre 2020
        "range": "du {start} au {end}",              # du 30 novembre au 2 décembre 2020
    },
    "en": {
        "long": "d MMMM y",
        "day": "EEEE d MMMM",
        "day_year": "EEEE d MMMM y",
        "time": "h:mm a",
        "time_range": "{start}–{end}",
        "event": "{day}, {times}",
        "first": "d",
        "day_month": "d MMMM",
        "range_days": "{start}–{end}",               # 3–4 December 2020
        "range_same_month": "{start}–{end}",         # 3–7 December 2020
        "range": "{start} – {end}",                  # 30 November – 2 December 2020
    },
}


def _formats(language: str) -> dict[str, str]:
    return DATE_FORMATS.get(language.split("-")[0].split("_")[0], DATE_FORMATS["en"])


def _pattern(value: dt.date, language: str, key: str) -> str:
    """The pattern ``key``, with the first of the month written as the language writes it."""
    pattern = _formats(language)[key]
    if value.day == 1:
        pattern = pattern.replace("d ", _formats(language)["first"] + " ", 1)
    return pattern


def format_long(value: dt.date, language: str) -> str:
    """"16 décembre 2024", "1er décembre 2020"."""
    return format_date(value, _pattern(value, language, "long"), locale=language)


def format_date_range(start: dt.date, end: dt.date | None, language: str) -> str:
    """A period as the language writes it: "3 et 4 décembre 2020", "du 3 au 7 décembre 2020",
    "du 30 novembre au 2 décembre 2020" (English: "3–4 December 2020", …)."""
    if end is None or end == start:
        return format_long(start, language)
    formats = _formats(language)
    last = format_long(end, language)
    if (start.year, start.month) == (end.year, end.month):
        first = format_date(start, _pattern(start, language, "first") + "", locale=language) \
            if start.day == 1 else str(start.day)
        key = "range_days" if end.day == start.day + 1 else "range_same_month"
        return formats[key].format(start=first, end=last)
    if start.year == end.year:
        first = format_date(start, _pattern(start, language, "day_month"), locale=language)
        return formats["range"].format(start=first, end=last)
    return formats["range"].format(start=format_long(start, language), end=last)


def format_masthead(value: dt.date, language: str) -> str:
    """The date in the masthead, in capitals: "16 DÉCEMBRE 2024"."""
    return format_long(value, language).upper()


def format_day(value: dt.date, language: str, *, with_year: bool = False) -> str:
    """"mardi 14 janvier" (with the year when asked, e.g. for next year's dates)."""
    key = "day_year" if with_year else "day"
    return format_date(value, _pattern(value, language, key), locale=language)


def format_time_range(start: dt.time | None, end: dt.time | None, language: str) -> str:
    """"14h00–15h00", or just "14h00" without an end."""
    if start is None:
        return ""
    pattern = _formats(language)["time"]
    first = format_time(start, pattern, locale=language)
    if end is None:
        return first
    return _formats(language)["time_range"].format(
        start=first, end=format_time(end, pattern, locale=language))


def format_event(day: dt.date, start: dt.time | None, end: dt.time | None, language: str,
                 *, reference: dt.date | None = None) -> str:
    """"mardi 14 janvier, 14h00–15h00"; the year is added when it differs from ``reference``."""
    with_year = reference is not None and day.year != reference.year
    text = format_day(day, language, with_year=with_year)
    times = format_time_range(start, end, language)
    return _formats(language)["event"].format(day=text, times=times) if times else text
