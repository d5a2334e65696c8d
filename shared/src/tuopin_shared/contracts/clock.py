"""The programme's calendar: dates are dates in China, whatever the server's zone.

China has used UTC+8 without daylight saving since 1991, so a fixed offset is
exact and needs no time-zone database.
"""

from datetime import date, datetime, timedelta, timezone

CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")


def today() -> date:
    """Today's date in China: a child born this morning is not "in the future"."""
    return datetime.now(CHINA_STANDARD_TIME).date()
