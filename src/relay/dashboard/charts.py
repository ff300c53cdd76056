"""Server-rendered SVG charts (no JavaScript): a key's requests per day, stacked by
status class. Geometry is computed here; templates/_usage_chart.html draws it, twice:
WIDTH wide for a desktop and PHONE_WIDTH wide for a phone (CSS shows one), so that its
11-unit labels are about 11 px tall on either, not 5 px on a phone."""

from __future__ import annotations

from dataclasses import dataclass

from relay.auth.schemas import UsageDay

WIDTH = 720
PHONE_WIDTH = 340
HEIGHT = 200
LEFT = 44  # room for the y-axis labels
BOTTOM = 24  # room for the x-axis labels
TOP = 8
# Status class -> fill, chosen to stay apart for common colour blindness.
COLOURS = {"2xx": "#2563eb", "3xx": "#7c3aed", "4xx": "#d97706", "5xx": "#dc2626"}


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    fill: str


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class DayLabel:
    x: float
    label: str
    # "middle", or "end" for a label whose middle would put its end past the edge.
    anchor: str = "middle"


@dataclass(frozen=True)
class UsageChart:
    width: int
    height: int
    left: int
    baseline: float
    bars: list[Bar]
    ticks: list[Tick]
    day_labels: list[DayLabel]
    total: int
    colours: dict[str, str]


def _nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten at or above `value` (at least 1)."""
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude >= value:
                return step * magnitude
        magnitude *= 10


# Room a day label ("Dec 07", 11 units) needs on either side of its middle.
_HALF_LABEL = 20


def usage_chart(days: list[UsageDay], *, width: int = WIDTH, label_every: int = 7) -> UsageChart:
    """The chart `width` units wide, a day labelled every `label_every` days back from
    the last (today's)."""
    top_value = _nice_ceiling(max((day.total for day in days), default=0))
    plot_height = HEIGHT - TOP - BOTTOM
    slot = (width - LEFT) / max(len(days), 1)
    baseline: float = HEIGHT - BOTTOM
    bars = []
    for index, day in enumerate(days):
        y: float = baseline
        for status, fill in COLOURS.items():
            count = day.by_status.get(status, 0)
            if not count:
                continue
            height = count / top_value * plot_height
            y -= height
            bars.append(Bar(LEFT + index * slot + slot * 0.15, y, slot * 0.7, height, fill))
    # Whole numbers only: a middle line when the top divides evenly.
    values = (0, top_value // 2, top_value) if top_value % 2 == 0 else (0, top_value)
    ticks = [Tick(baseline - value / top_value * plot_height, f"{value:,}") for value in values]
    # A label every `label_every` days, counted back from today so that today always has
    # one; today's, at the right edge, ends there instead of being cut.
    labels = []
    for index, day in enumerate(days):
        if (len(days) - 1 - index) % label_every == 0:
            x = LEFT + index * slot + slot / 2
            if x + _HALF_LABEL > width:
                labels.append(DayLabel(width, day.date.strftime("%b %d"), "end"))
            else:
                labels.append(DayLabel(x, day.date.strftime("%b %d")))
    return UsageChart(
        width, HEIGHT, LEFT, baseline, bars, ticks, labels, sum(d.total for d in days), COLOURS
    )
