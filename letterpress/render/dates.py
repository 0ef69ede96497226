"""Dates and times as readers of each publication language expect them (Babel).

The patterns are kept here, per language ('fr' first), so a new publication language is one
entry: the reference letter writes "16 décembre 2024", "mardi 14 janvier, 14h00–15h00".
"""

from __future__ import annotations

import datetime as dt

from babel.dates import format_date, format_time

__all__ = ["DATE_FORMATS", "format_day", "format_event", "format_long", "format_masthead",
           "format_time_range"]

DATE_FORMATS: dict[str, dict[str, str]] = {
    "fr": {
        "long": "d MMMM y",              # 16 décembre 2024
        "day": "EEEE d MMMM",            # mardi 14 janvier
        "day_year": "EEEE d MMMM y",     # jeudi 16 janvier 2025
        "time": "HH'h'mm",               # 14h00
        "range": "{start}–{end}",        # 14h00–15h00
        "event": "{day}, {times}",       # mardi 14 janvier, 14h00–15h00
    },
    "en": {
        "long": "d MMMM y",
        "day": "EEEE d MMMM",
        "day_year": "EEEE d MMMM y",
        "time": "h:mm a",
        "range": "{start}–{end}",
        "event": "{day}, {times}",
    },
}


def _formats(language: str) -> dict[str, str]:
    return DATE_FORMATS.get(language.split("-")[0].split("_")[0], DATE_FORMATS["en"])


def format_long(value: dt.date, language: str) -> str:
    """"16 décembre 2024"."""
    return format_date(value, _formats(language)["long"], locale=language)


def format_masthead(value: dt.date, language: str) -> str:
    """The date in the masthead, in capitals: "16 DÉCEMBRE 2024"."""
    return format_long(value, language).upper()


def format_day(value: dt.date, language: str, *, with_year: bool = False) -> str:
    """"mardi 14 janvier" (with the year when asked, e.g. for next year's dates)."""
    key = "day_year" if with_year else "day"
    return format_date(value, _formats(language)[key], locale=language)


def format_time_range(start: dt.time | None, end: dt.time | None, language: str) -> str:
    """"14h00–15h00", or just "14h00" without an end."""
    if start is None:
        return ""
    pattern = _formats(language)["time"]
    first = format_time(start, pattern, locale=language)
    if end is None:
        return first
    return _formats(language)["range"].format(
        start=first, end=format_time(end, pattern, locale=language))


def format_event(day: dt.date, start: dt.time | None, end: dt.time | None, language: str,
                 *, reference: dt.date | None = None) -> str:
    """"mardi 14 janvier, 14h00–15h00"; the year is added when it differs from ``reference``."""
    with_year = reference is not None and day.year != reference.year
    text = format_day(day, language, with_year=with_year)
    times = format_time_range(start, end, language)
    return _formats(language)["event"].format(day=text, times=times) if times else text
