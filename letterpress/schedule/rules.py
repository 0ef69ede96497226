"""Recurring publication rules ("third tuesday 10:00") and their occurrences.

A rule names one moment per month in the publication's time zone.  Occurrences are
computed in local time and returned as aware UTC datetimes, so "10:00" stays 10:00 in Paris
on both sides of a daylight-saving change.

Edge cases, decided once:

* ``monthly 31 10:00`` in a month with fewer days fires on the month's last day
  (28 or 29 February, 30 April…): a monthly letter should not skip a month.
* A local time that does not exist (the spring-forward hour, e.g. 02:30 on the last Sunday
  of March in Europe/Paris) is moved forward by the length of the gap (03:30 local).
* A local time that happens twice (the fall-back hour) fires at its first occurrence.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from ..errors import ScheduleError

__all__ = ["Rule", "RuleError", "month_key", "parse_rule", "to_utc"]

ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3,
            "fourth": 4, "4th": 4, "last": -1}
WEEKDAYS = {name: i for i, name in enumerate(
    ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))}
WEEKDAYS.update({name[:3]: i for name, i in list(WEEKDAYS.items())})

_TIME = r"(?:at\s+)?(?P<hour>\d{1,2})[:h](?P<minute>\d{2})"
_NTH = re.compile(
    r"^(?:every\s+)?(?P<ordinal>\w+)\s+(?P<weekday>[a-z]+)(?:\s+of\s+(?:the|each|every)\s+month)?"
    r"\s+" + _TIME + r"$")
_MONTHLY = re.compile(r"^monthly\s+(?:on\s+)?(?:day\s+)?(?P<day>\d{1,2})\s+" + _TIME + r"$")


class RuleError(ScheduleError):
    """A publication's ``schedule`` rule could not be understood."""

    def __init__(self, text: str, reason: str):
        self.text = text
        self.reason = reason
        super().__init__(
            f"cannot read schedule rule {text!r}: {reason} (examples: \"third tuesday 10:00\", "
            "\"last friday 17:00\", \"monthly 15 10:00\")")


@dataclass(frozen=True)
class Rule:
    """One moment per month: the n-th (or last) weekday, or a day of the month, at a local time."""

    text: str
    at: time
    ordinal: int | None = None  # 1..4, or -1 for "last"
    weekday: int | None = None  # 0 = Monday
    day: int | None = None  # for "monthly N"

    def local_date(self, year: int, month: int) -> date:
        """The day of ``year``/``month`` on which the rule falls."""
        last_day = calendar.monthrange(year, month)[1]
        if self.day is not None:
            return date(year, month, min(self.day, last_day))
        assert self.ordinal is not None and self.weekday is not None
        if self.ordinal == -1:
            d = date(year, month, last_day)
            return d - timedelta(days=(d.weekday() - self.weekday) % 7)
        first = date(year, month, 1)
        offset = (self.weekday - first.weekday()) % 7
        return first + timedelta(days=offset + 7 * (self.ordinal - 1))

    def occurrence(self, year: int, month: int, tz: tzinfo) -> datetime:
        """The occurrence of ``year``/``month`` as an aware UTC datetime."""
        return to_utc(datetime.combine(self.local_date(year, month), self.at), tz)

    def next_after(self, after: datetime, tz: tzinfo) -> datetime:
        """The first occurrence strictly after ``after`` (aware), in UTC."""
        local = after.astimezone(tz)
        year, month = local.year, local.month
        for _ in range(3):
            when = self.occurrence(year, month, tz)
            if when > after:
                return when
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        raise AssertionError("a monthly rule always has an occurrence within two months")

    def latest_until(self, until: datetime, tz: tzinfo) -> datetime:
        """The last occurrence at or before ``until`` (aware), in UTC."""
        local = until.astimezone(tz)
        year, month = local.year, local.month
        for _ in range(3):
            when = self.occurrence(year, month, tz)
            if when <= until:
                return when
            year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        raise AssertionError("a monthly rule always has an occurrence within two months")

    def upcoming(self, after: datetime, tz: tzinfo, count: int) -> list[datetime]:
        """The next ``count`` occurrences after ``after``, in UTC."""
        out: list[datetime] = []
        for _ in range(count):
            after = self.next_after(after, tz)
            out.append(after)
        return out


def to_utc(local: datetime, tz: tzinfo) -> datetime:
    """A naive local wall-clock time in ``tz`` → aware UTC, with the DST policy above."""
    aware = local.replace(tzinfo=tz, fold=0)
    as_utc = aware.astimezone(UTC)
    # A wall time inside the spring-forward gap does not survive a round trip; with fold=0
    # Python reads it with the offset from before the change, which lands the right amount
    # *after* the gap (02:30 → 03:30 local): that is the policy we want.
    return as_utc


def month_key(when: datetime, tz: tzinfo) -> str:
    """``YYYY-MM`` of an instant in the publication's zone: one recurring occurrence per month."""
    return when.astimezone(tz).strftime("%Y-%m")


def parse_rule(text: str) -> Rule:
    """Read a rule such as ``third tuesday 10:00``, ``last friday 17:00`` or ``monthly 15 10:00``."""
    normalised = " ".join(text.lower().replace(",", " ").split())
    if not normalised:
        raise RuleError(text, "the rule is empty")
    m = _MONTHLY.match(normalised)
    if m:
        day = int(m["day"])
        if not 1 <= day <= 31:
            raise RuleError(text, f"day {day} is not between 1 and 31")
        return Rule(text=text, at=_time(text, m), day=day)
    m = _NTH.match(normalised)
    if not m:
        raise RuleError(text, "expected '<first|second|third|fourth|last> <weekday> HH:MM' "
                              "or 'monthly <day> HH:MM'")
    ordinal = ORDINALS.get(m["ordinal"])
    if ordinal is None:
        raise RuleError(text, f"unknown ordinal {m['ordinal']!r} "
                              "(first, second, third, fourth or last)")
    weekday = WEEKDAYS.get(m["weekday"].rstrip("s"), WEEKDAYS.get(m["weekday"]))
    if weekday is None:
        raise RuleError(text, f"unknown weekday {m['weekday']!r}")
    return Rule(text=text, at=_time(text, m), ordinal=ordinal, weekday=weekday)


def _time(text: str, m: re.Match) -> time:
    hour, minute = int(m["hour"]), int(m["minute"])
    if hour > 23 or minute > 59:
        raise RuleError(text, f"{hour:02d}:{minute:02d} is not a time of day")
    return time(hour, minute)
