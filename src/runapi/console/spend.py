"""The Overview's spend figures: today, this month, a bar per UTC day over the last weeks and the costliest models,
all read from the usage log (billing/usage.py) in the viewer's scope. The chart is laid out here, in plain numbers,
and drawn by the template as inline SVG: no chart library, no script, nothing fetched."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from ..billing.usage import MICRO, UsageFilter, UsageGroup, UsageScope, summarize_usage
from ..store import Database

CHART_DAYS = 30
TOP_MODELS = 5
# The SVG's own coordinate space (it scales to the card's width); room at the left for the axis labels.
WIDTH, HEIGHT = 600.0, 160.0
LEFT, TOP, BOTTOM = 56.0, 8.0, 20.0
BAR_GAP = 0.25  # of a day's slot


def dollars(micro_cents: int) -> str:
    """Exact spend as dollars: whole cents as "$12.34", a sub-cent total with the digits it needs ("$0.0042")."""
    cents = micro_cents / MICRO
    if micro_cents % MICRO == 0 or abs(cents) >= 100:
        return f"${cents / 100:,.2f}"
    return "$" + f"{cents / 100:.8f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class DayBar:
    day: str  # YYYY-MM-DD (UTC)
    micro_cents: int
    requests: int
    x: float
    y: float
    width: float
    height: float

    @property
    def label(self) -> str:
        return f"{self.day}: {dollars(self.micro_cents)} in {self.requests} request{'s' if self.requests != 1 else ''}"


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class SpendChart:
    bars: tuple[DayBar, ...]
    ticks: tuple[Tick, ...]
    first_day: str
    last_day: str
    width: float = WIDTH
    height: float = HEIGHT
    left: float = LEFT
    baseline: float = HEIGHT - BOTTOM

    @property
    def empty(self) -> bool:
        return not any(b.micro_cents for b in self.bars)

    @property
    def total_micro_cents(self) -> int:
        return sum(b.micro_cents for b in self.bars)


def nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 × 10^k at or above value (a top for the axis that reads well); 1 for nothing."""
    if value <= 0:
        return 1
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step >= value:
                return m * step
        step *= 10


def spend_chart(days: Sequence[UsageGroup], last_day: date, span: int = CHART_DAYS) -> SpendChart:
    """One bar per day of the `span` days ending on `last_day`, days without requests at zero."""
    by_day = {g.key: g for g in days if g.key}
    first = last_day - timedelta(days=span - 1)
    plot_w, plot_h = WIDTH - LEFT, HEIGHT - TOP - BOTTOM
    slot = plot_w / span
    values = [by_day.get((first + timedelta(days=i)).isoformat()) for i in range(span)]
    top = nice_ceiling(max((g.cost_micro_cents for g in values if g), default=0))
    bars = []
    for i, g in enumerate(values):
        spent = g.cost_micro_cents if g else 0
        h = plot_h * spent / top
        bars.append(
            DayBar(
                day=(first + timedelta(days=i)).isoformat(),
                micro_cents=spent,
                requests=g.requests if g else 0,
                x=round(LEFT + i * slot + slot * BAR_GAP / 2, 2),
                y=round(TOP + plot_h - h, 2),
                width=round(slot * (1 - BAR_GAP), 2),
                height=round(h, 2),
            )
        )
    ticks = tuple(Tick(round(TOP + plot_h * (1 - f), 2), dollars(round(top * f))) for f in (0.0, 0.5, 1.0))
    return SpendChart(tuple(bars), ticks, first.isoformat(), last_day.isoformat())


@dataclass(frozen=True)
class SpendOverview:
    today_micro_cents: int
    month_micro_cents: int
    chart: SpendChart
    top_models: tuple[UsageGroup, ...]


def _start_of(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


async def spend_overview(db: Database, scope: UsageScope, now: float) -> SpendOverview:
    today = datetime.fromtimestamp(now, tz=UTC).date()
    chart_from = today - timedelta(days=CHART_DAYS - 1)
    month_start = today.replace(day=1)
    since = _start_of(min(chart_from, month_start))
    days = await summarize_usage(db, scope, UsageFilter(created_after=since), "day")
    by_day = {g.key: g.cost_micro_cents for g in days if g.key}
    month = sum(v for k, v in by_day.items() if k >= month_start.isoformat())
    models = await summarize_usage(db, scope, UsageFilter(created_after=_start_of(chart_from)), "model")
    return SpendOverview(
        today_micro_cents=by_day.get(today.isoformat(), 0),
        month_micro_cents=month,
        chart=spend_chart(days, today),
        top_models=tuple(g for g in models if g.requests)[:TOP_MODELS],
    )
