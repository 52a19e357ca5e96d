"""Numbers, percentages and dates as French (or English) readers write them, through Babel.

Two registers: ``for_table`` is what CSV and the HTML tables show (sortable dates, a rate as a plain
number under a "(%)" header, so a spreadsheet reads it back as a number); ``percent``, ``moment``
and ``count`` are prose (the HTML page's charts and headings). Babel is imported on first use only:
``lms-sync serve`` loads it when a report is asked for, not at start.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from typing import Any

TABLE_DATE_FORMAT = "%Y-%m-%d %H:%M"  # what Excel and LibreOffice read as a date in any locale


@cache
def _locale(lang: str) -> Any:
    from babel import Locale

    return Locale.parse("en_GB" if lang == "en" else "fr_FR")  # en_GB: day before month, 24-hour clock


def rate_number(value: float | None, lang: str) -> str:
    """A rate 0..1 as a percentage number with one decimal, no sign: ``33,3`` (fr), ``33.3`` (en)."""
    if value is None:
        return ""
    from babel.numbers import format_decimal

    return str(format_decimal(round(value * 100, 1), "0.0", locale=_locale(lang)))


def percent(value: float | None, lang: str, *, decimals: int = 0) -> str:
    """A rate 0..1 as prose: ``72 %`` in French (narrow no-break space), ``72%`` in English; — when unknown."""
    if value is None:
        return "—"
    from babel.numbers import format_percent

    # French puts a narrow no-break space before the sign (as CLDR's own fr pattern does); English none.
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "") + ("%" if lang == "en" else "\u202f%")
    return str(format_percent(value, pattern, locale=_locale(lang)))


def count(value: int, lang: str) -> str:
    """A whole number with the language's thousands separator (``1 234`` in French)."""
    from babel.numbers import format_decimal

    return str(format_decimal(value, locale=_locale(lang)))


def table_moment(moment: datetime | None) -> str:
    """A local time to the minute as tables write it, ``2020-12-10 12:33`` (empty when absent)."""
    return moment.strftime(TABLE_DATE_FORMAT) if moment else ""


def moment(value: datetime | None, lang: str) -> str:
    """A local time as prose: ``10 déc. 2020 12:33`` (fr), ``10 Dec 2020 12:33`` (en)."""
    if value is None:
        return ""
    from babel.dates import format_date, format_time

    return f"{format_date(value, 'medium', locale=_locale(lang))} {format_time(value, 'HH:mm', locale=_locale(lang))}"


def day_only(value: date, lang: str) -> str:
    """A date as prose: ``1 janv. 2021``."""
    from babel.dates import format_date

    return str(format_date(value, "medium", locale=_locale(lang)))


def xlsx_date_format(lang: str) -> str:
    """The number format of a date-time cell: day first in French, ISO order in English."""
    return "yyyy-mm-dd hh:mm" if lang == "en" else "dd/mm/yyyy hh:mm"
