"""The steps chart of the latest days: bars drawn in SVG, words in HTML.

The bars stretch to any width (the SVG has no text of its own), and the
labels are ordinary text at the page's font size, so a phone shows them as
large as a desktop does instead of shrinking them with the drawing.
"""

from dataclasses import dataclass
from datetime import date

from core.models import RecentDay

CHART_DAYS = 28
# The drawing's own units; the page stretches it (preserveAspectRatio="none").
WIDTH = 280
HEIGHT = 100
BAR_SHARE = 0.7


@dataclass(frozen=True)
class Bar:
    day: date
    steps: int
    x: float
    y: float
    width: float
    height: float

    @property
    def label(self) -> str:
        return f"{self.day:%a} {self.day.day} {self.day:%b}: {self.steps:,} steps"


@dataclass(frozen=True)
class StepsChart:
    bars: list[Bar]
    max_steps: int
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def first(self) -> date:
        return self.bars[0].day

    @property
    def last(self) -> date:
        return self.bars[-1].day

    @property
    def mid_y(self) -> float:
        return self.height / 2

    @property
    def middle(self) -> int:
        return self.max_steps // 2

    @property
    def summary(self) -> str:
        first, last = self.first, self.last
        return (
            f"Steps per day from {first.day} {first:%B %Y} to {last.day} {last:%B %Y}; "
            f"the highest day had {self.max_steps:,} steps."
        )


def steps_chart(rows: list[RecentDay]) -> StepsChart | None:
    rows = rows[-CHART_DAYS:]
    if not rows:
        return None
    max_steps = max(row.steps for row in rows)
    slot = WIDTH / len(rows)
    bars = []
    for index, row in enumerate(rows):
        height = HEIGHT * row.steps / max_steps if max_steps else 0
        bars.append(
            Bar(
                day=row.date,
                steps=row.steps,
                x=round(index * slot + slot * (1 - BAR_SHARE) / 2, 2),
                y=round(HEIGHT - height, 2),
                width=round(slot * BAR_SHARE, 2),
                height=round(height, 2),
            )
        )
    return StepsChart(bars=bars, max_steps=max_steps)
