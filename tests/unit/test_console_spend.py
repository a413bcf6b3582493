"""The Overview's spend figures: money formatting, the axis top and the chart's layout (pure)."""

from __future__ import annotations

from datetime import date

from runapi.billing.usage import MICRO, UsageGroup
from runapi.console.spend import BOTTOM, CHART_DAYS, HEIGHT, TOP, dollars, nice_ceiling, spend_chart


def day(key: str, micro: int, requests: int = 1) -> UsageGroup:
    return UsageGroup(key, requests, 0, 0, 0, 0, 0, 0, micro, micro // MICRO)


def test_dollars_whole_cents_and_sub_cent_totals():
    assert dollars(0) == "$0.00"
    assert dollars(1234 * MICRO) == "$12.34"
    assert dollars(123_456 * MICRO) == "$1,234.56"
    assert dollars(420) == "$0.0000042"  # 0.00042 cents: the digits it needs, none invented
    assert dollars(int(1.5 * MICRO)) == "$0.015"


def test_nice_ceiling_reads_well():
    assert [nice_ceiling(v) for v in (0, 1, 3, 7, 10, 11, 260, 999_999)] == [1, 1, 5, 10, 10, 20, 500, 1_000_000]


def test_chart_has_a_bar_per_day_with_missing_days_at_zero():
    chart = spend_chart([day("2026-12-01", 50 * MICRO, 3), day("2026-12-06", 100 * MICRO)], date(2026, 12, 6))
    assert len(chart.bars) == CHART_DAYS
    assert (chart.first_day, chart.last_day) == ("2026-11-07", "2026-12-06")
    by_day = {b.day: b for b in chart.bars}
    assert by_day["2026-12-06"].height == HEIGHT - TOP - BOTTOM  # the largest day fills the plot
    assert by_day["2026-12-01"].height == (HEIGHT - TOP - BOTTOM) / 2
    assert by_day["2026-12-02"].height == 0 and by_day["2026-12-02"].requests == 0
    assert by_day["2026-12-01"].label == "2026-12-01: $0.50 in 3 requests"
    assert chart.total_micro_cents == 150 * MICRO and not chart.empty
    # bars stand on one baseline, left to right, without overlapping
    assert all(b.y + b.height == chart.baseline for b in chart.bars)
    assert all(a.x + a.width < b.x for a, b in zip(chart.bars, chart.bars[1:], strict=False))
    assert [t.label for t in chart.ticks] == ["$0.00", "$0.50", "$1.00"]


def test_days_outside_the_span_are_left_out_and_nothing_spent_is_empty():
    chart = spend_chart([day("2026-10-01", 10 * MICRO)], date(2026, 12, 6))
    assert chart.empty and chart.total_micro_cents == 0
