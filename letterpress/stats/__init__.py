"""Aggregate reader statistics: clicks per link and per day, opens per issue and per day.

No reader is identified anywhere: see :mod:`letterpress.stats.rewrite` (the links every
recipient receives), :mod:`letterpress.stats.counting` (people apart from scanners) and
docs/reports.md.
"""

__all__: list[str] = []
