"""The usage chart's geometry: bars stacked by status class, whole-number scale lines,
a day label every week ending today."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from relay.auth.schemas import UsageDay
from relay.dashboard.charts import COLOURS, HEIGHT, PHONE_WIDTH, usage_chart

pytestmark = pytest.mark.backend_independent


def days(*totals: dict[str, int]) -> list[UsageDay]:
    start = date(2026, 11, 1)
    return [
        UsageDay(
            date=start + timedelta(days=index),
            total=sum(counts.values()),
            by_status={status: counts.get(status, 0) for status in COLOURS},
        )
        for index, counts in enumerate(totals)
    ]


def test_bars_stack_by_status_class_and_the_tallest_fills_the_scale() -> None:
    chart = usage_chart(days({"2xx": 6, "4xx": 4}, {"2xx": 3}, {}))
    assert [bar.fill for bar in chart.bars] == [COLOURS["2xx"], COLOURS["4xx"], COLOURS["2xx"]]
    two_xx, four_xx, second_day = chart.bars
    assert four_xx.y + four_xx.height == pytest.approx(two_xx.y)  # stacked on top
    assert four_xx.y == pytest.approx(8)  # 10 requests reach the top of the scale
    assert second_day.height == pytest.approx(two_xx.height / 2)
    assert chart.total == 13
    assert [tick.label for tick in chart.ticks] == ["0", "5", "10"]


def test_scale_lines_are_whole_numbers_even_for_one_request() -> None:
    assert [tick.label for tick in usage_chart(days({"2xx": 1})).ticks] == ["0", "1"]
    assert [tick.label for tick in usage_chart(days({})).ticks] == ["0", "1"]
    assert usage_chart(days({})).bars == []
    assert all(0 <= tick.y <= HEIGHT for tick in usage_chart(days({"5xx": 70_000})).ticks)


def test_days_are_labelled_weekly_back_from_today() -> None:
    labels = [label.label for label in usage_chart(days(*[{}] * 30)).day_labels]
    assert labels == ["Nov 02", "Nov 09", "Nov 16", "Nov 23", "Nov 30"]


def test_the_phone_chart_labels_every_two_weeks_and_ends_todays_label_at_the_edge() -> None:
    for width, every, expected in (
        (720, 7, ["Nov 02", "Nov 09", "Nov 16", "Nov 23", "Nov 30"]),
        (PHONE_WIDTH, 14, ["Nov 02", "Nov 16", "Nov 30"]),
    ):
        chart = usage_chart(days(*[{}] * 30), width=width, label_every=every)
        assert [label.label for label in chart.day_labels] == expected
        today = chart.day_labels[-1]
        assert (today.x, today.anchor) == (width, "end")
        assert all(label.anchor == "middle" for label in chart.day_labels[:-1])
