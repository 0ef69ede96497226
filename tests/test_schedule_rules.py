"""Recurring rules: parsing, and occurrences across DST changes and month ends."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from letterpress.schedule.rules import RuleError, month_key, parse_rule

PARIS = ZoneInfo("Europe/Paris")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize("text, expected_local", [
    ("third tuesday 10:00", datetime(2025, 1, 21, 10, 0)),
    ("first monday 09:30", datetime(2025, 1, 6, 9, 30)),
    ("last friday 17:00", datetime(2025, 1, 31, 17, 0)),
    ("monthly 15 10:00", datetime(2025, 1, 15, 10, 0)),
    ("Third Tuesday of the month at 10:00", datetime(2025, 1, 21, 10, 0)),
    ("2nd wed 8h15", datetime(2025, 1, 8, 8, 15)),
])
def test_rule_forms(text, expected_local):
    rule = parse_rule(text)
    got = rule.occurrence(2025, 1, PARIS)
    assert got.tzinfo is UTC
    assert got.astimezone(PARIS).replace(tzinfo=None) == expected_local


@pytest.mark.parametrize("text, fragment", [
    ("", "empty"),
    ("fifth monday 10:00", "unknown ordinal"),
    ("third funday 10:00", "unknown weekday"),
    ("third tuesday 25:00", "not a time of day"),
    ("monthly 32 10:00", "between 1 and 31"),
    ("every day", "expected"),
])
def test_bad_rules_say_why(text, fragment):
    with pytest.raises(RuleError, match=fragment) as info:
        parse_rule(text)
    assert "third tuesday 10:00" in str(info.value)  # shows an example


def test_third_tuesday_keeps_local_time_across_spring_dst():
    rule = parse_rule("third tuesday 10:00")
    march = rule.occurrence(2025, 3, PARIS)   # 18 March, still CET (UTC+1)
    april = rule.occurrence(2025, 4, PARIS)   # 15 April, CEST (UTC+2)
    assert march == utc(2025, 3, 18, 9, 0)
    assert april == utc(2025, 4, 15, 8, 0)
    assert march.astimezone(PARIS).hour == april.astimezone(PARIS).hour == 10


def test_third_tuesday_across_autumn_dst():
    rule = parse_rule("third tuesday 10:00")
    assert rule.occurrence(2025, 10, PARIS) == utc(2025, 10, 21, 8, 0)   # CEST
    assert rule.occurrence(2025, 11, PARIS) == utc(2025, 11, 18, 9, 0)   # CET


def test_nonexistent_local_time_moves_forward_past_the_gap():
    # 30 March 2025: Paris jumps from 02:00 to 03:00; 02:30 does not exist.
    got = parse_rule("last sunday 02:30").occurrence(2025, 3, PARIS)
    assert got == utc(2025, 3, 30, 1, 30)
    assert got.astimezone(PARIS).strftime("%H:%M %Z") == "03:30 CEST"


def test_ambiguous_local_time_fires_at_first_occurrence():
    # 26 October 2025: 02:30 happens twice in Paris; the first one is CEST (00:30 UTC).
    got = parse_rule("last sunday 02:30").occurrence(2025, 10, PARIS)
    assert got == utc(2025, 10, 26, 0, 30)
    assert got.astimezone(PARIS).strftime("%H:%M %Z") == "02:30 CEST"


def test_month_end_day_is_clamped_to_the_last_day():
    rule = parse_rule("monthly 31 10:00")
    assert rule.local_date(2025, 2).isoformat() == "2025-02-28"
    assert rule.local_date(2024, 2).isoformat() == "2024-02-29"
    assert rule.local_date(2025, 4).isoformat() == "2025-04-30"
    assert rule.local_date(2025, 5).isoformat() == "2025-05-31"
    # A monthly rule never skips a month.
    months = [month_key(w, PARIS) for w in rule.upcoming(utc(2025, 1, 1), PARIS, 12)]
    assert months == [f"2025-{m:02d}" for m in range(1, 13)]


def test_last_weekday_in_month_ending_on_it():
    rule = parse_rule("last friday 17:00")
    assert rule.local_date(2025, 10).isoformat() == "2025-10-31"   # a Friday
    assert rule.local_date(2025, 11).isoformat() == "2025-11-28"


def test_next_after_and_latest_until():
    rule = parse_rule("third tuesday 10:00")
    occurrence = utc(2025, 1, 21, 9, 0)
    assert rule.next_after(utc(2025, 1, 1), PARIS) == occurrence
    # Strictly after: the occurrence itself gives the next month's.
    assert rule.next_after(occurrence, PARIS) == utc(2025, 2, 18, 9, 0)
    assert rule.latest_until(occurrence, PARIS) == occurrence
    assert rule.latest_until(utc(2025, 1, 21, 8, 59), PARIS) == utc(2024, 12, 17, 9, 0)
    # Year boundary.
    assert rule.next_after(utc(2024, 12, 20), PARIS) == occurrence
