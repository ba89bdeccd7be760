"""The seasonal baseline of forecasting experiments: the training rows' mean of the target for each
calendar day (hpcseq.data.time_series.seasonal_means, scored by hpcseq.evaluation.forecast), with
29 February and days missing from the training years."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from hpcseq.data import time_series as T


def minutes_of(*times: str) -> np.ndarray:
    """Minutes since 1970 of "YYYY-MM-DD" or "YYYY-MM-DD HH:MM" times, as read_series gives them."""
    moments = [datetime.fromisoformat(text) for text in times]
    return np.array([int((moment - T.EPOCH).total_seconds() // 60) for moment in moments], dtype=np.int64)


def daily(first: str, last: str, skip: tuple[str, ...] = ()) -> list[str]:
    """Every day from `first` to `last` as "YYYY-MM-DD", without those in `skip`."""
    day, end, days = datetime.fromisoformat(first), datetime.fromisoformat(last), []
    while day <= end:
        if day.strftime("%Y-%m-%d") not in skip:
            days.append(day.strftime("%Y-%m-%d"))
        day += timedelta(days=1)
    return days


def value_of(day: str) -> float:
    """A made-up value that differs by year and by day, so each mean can be told from another."""
    moment = datetime.fromisoformat(day)
    return 100.0 * (moment.year - 2010) + moment.timetuple().tm_yday


def test_calendar_days_keep_29_february_apart_and_1_march_the_same_in_every_year():
    days = T.calendar_days(minutes_of("2012-01-01", "2012-02-28", "2012-02-29", "2012-03-01", "2013-02-28"))
    assert days.tolist() == [0, 58, 59, 60, 58]
    assert T.calendar_days(minutes_of("2013-03-01", "2012-12-31", "2013-12-31 23:50")).tolist() == [60, 365, 365]


def test_each_calendar_day_is_the_mean_of_the_training_years_and_29_february_its_own():
    days = daily("2012-01-01", "2013-12-31")  # 2012 a leap year
    means = T.seasonal_means(minutes_of(*days), np.array([value_of(day) for day in days]))
    assert means.shape == (T.CALENDAR_DAYS,) and np.isfinite(means).all()
    # 1 March: day 61 of 2012 and day 60 of 2013
    assert means[60] == pytest.approx((value_of("2012-03-01") + value_of("2013-03-01")) / 2)
    assert means[59] == value_of("2012-02-29")  # only 2012 has one
    assert means[0] == pytest.approx((200 + 1 + 300 + 1) / 2)


def test_without_a_leap_year_29_february_is_the_mean_of_28_february_and_1_march():
    days = daily("2013-01-01", "2014-12-31")
    means = T.seasonal_means(minutes_of(*days), np.array([value_of(day) for day in days]))
    february_28 = (value_of("2013-02-28") + value_of("2014-02-28")) / 2
    march_1 = (value_of("2013-03-01") + value_of("2014-03-01")) / 2
    assert means[58] == pytest.approx(february_28) and means[60] == pytest.approx(march_1)
    assert means[59] == pytest.approx((february_28 + march_1) / 2)


def test_a_year_missing_a_day_leaves_that_day_to_the_other_years():
    days = daily("2012-01-01", "2013-12-31", skip=("2013-07-04", "2012-12-31"))
    means = T.seasonal_means(minutes_of(*days), np.array([value_of(day) for day in days]))
    assert means[T.calendar_days(minutes_of("2013-07-04"))[0]] == value_of("2012-07-04")
    assert means[365] == value_of("2013-12-31")


def test_a_calendar_day_no_year_has_takes_its_neighbours_and_the_year_wraps_round():
    # one year, 2013, without 10 June, 11 June and 31 December
    days = daily("2013-01-01", "2013-12-31", skip=("2013-06-10", "2013-06-11", "2013-12-31"))
    means = T.seasonal_means(minutes_of(*days), np.array([value_of(day) for day in days]))
    june_9, june_12 = value_of("2013-06-09"), value_of("2013-06-12")
    [june_10, june_11] = T.calendar_days(minutes_of("2013-06-10", "2013-06-11"))
    assert means[june_10] == means[june_11] == pytest.approx((june_9 + june_12) / 2)
    assert means[365] == pytest.approx((value_of("2013-12-30") + value_of("2013-01-01")) / 2)


def test_rows_within_a_day_share_its_mean():
    # a sub-daily series (Jena's 10-minute rows): every time of a day feeds that day's mean
    minutes = minutes_of("2009-01-01 00:10", "2009-01-01 12:00", "2009-01-02 00:00", "2010-01-01 23:50")
    means = T.seasonal_means(minutes, np.array([1.0, 3.0, 10.0, 5.0]))
    assert means[0] == pytest.approx(3.0) and means[1] == 10.0
    assert means[200] == pytest.approx((3.0 + 10.0) / 2)  # far from both: the nearest each way


def test_no_training_rows_is_an_error():
    with pytest.raises(ValueError, match="no rows"):
        T.seasonal_means(np.zeros(0, dtype=np.int64), np.zeros(0))
