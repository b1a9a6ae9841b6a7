"""main.steps_chart: bars that stretch, labels left to the page's text."""

from datetime import date, timedelta

from core.models import RecentDay
from main.steps_chart import CHART_DAYS, HEIGHT, WIDTH, steps_chart


def rows(steps: list[int]) -> list[RecentDay]:
    first = date(2026, 1, 1)
    return [RecentDay(date=first + timedelta(days=n), steps=value) for n, value in enumerate(steps)]


def test_steps_chart_scales_to_the_highest_day():
    chart = steps_chart(rows([0, 5000, 10000]))

    assert [bar.height for bar in chart.bars] == [0, HEIGHT / 2, HEIGHT]
    assert chart.bars[-1].y == 0
    assert chart.bars[-1].x + chart.bars[-1].width < WIDTH
    assert (
        chart.summary
        == "Steps per day from 1 January 2026 to 3 January 2026; the highest day had 10,000 steps."
    )


def test_steps_chart_keeps_the_latest_days():
    chart = steps_chart(rows(list(range(40))))

    assert len(chart.bars) == CHART_DAYS
    assert chart.first == date(2026, 1, 13)


def test_steps_chart_of_no_days_is_none_and_of_no_steps_is_flat():
    assert steps_chart([]) is None
    assert [bar.height for bar in steps_chart(rows([0, 0])).bars] == [0, 0]
