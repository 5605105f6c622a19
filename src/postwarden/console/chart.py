"""A stacked bar chart as inline SVG, drawn on the server: no script, nothing to fetch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from postwarden.console.i18n import label

# Colours per action, readable on white and distinct for the common colour-vision deficiencies.
ACTION_COLOURS: dict[str, str] = {
    "deliver": "#2b8a3e",
    "warn": "#e6a700",
    "hold": "#d9480f",
    "reject": "#862e9c",
}
# For series without a colour of their own (rules): Okabe-Ito, safe for colour-blind readers.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442")
OTHER = "#868e96"


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass(frozen=True, slots=True)
class Chart:
    """Geometry a template turns into ``<svg>``; the template escapes every text."""

    width: int
    height: int
    bars: tuple[Bar, ...]
    labels: tuple[tuple[float, str], ...]
    peak: int
    legend: tuple[tuple[str, str], ...]


def stacked_bars(
    days: Sequence[str],
    counts: Mapping[str, Mapping[str, int]],
    series: Sequence[str] = ("deliver", "warn", "hold", "reject"),
    width: int = 720,
    height: int = 200,
    colours: Mapping[str, str] | None = None,
) -> Chart:
    """One bar per day, stacked by ``series``; ``counts[day][series]`` is the bar's part.

    ``colours`` maps a series to its colour; by default the action colours, and the palette
    in order for any other series.
    """
    colours = {"other": OTHER, **(colours or ACTION_COLOURS)}
    spare = iter(PALETTE)
    for name in series:
        if name not in colours:
            colours[name] = next(spare, OTHER)
    top, bottom = 10, 24
    plot = height - top - bottom
    peak = max((sum(counts.get(d, {}).values()) for d in days), default=0)
    slot = width / max(len(days), 1)
    bars: list[Bar] = []
    labels: list[tuple[float, str]] = []
    step = max(1, len(days) // 7)  # at most about seven date labels, so they never overlap
    for i, day in enumerate(days):
        y = float(top + plot)
        for name in series:
            n = counts.get(day, {}).get(name, 0)
            if not n or not peak:
                continue
            h = plot * n / peak
            y -= h
            bars.append(
                Bar(
                    x=round(i * slot + slot * 0.15, 1),
                    y=round(y, 1),
                    width=round(slot * 0.7, 1),
                    height=round(h, 1),
                    colour=colours[name],
                    title=f"{day}: {n} {label(name)}",
                )
            )
        if i % step == 0:
            labels.append((round(i * slot + slot / 2, 1), day[5:]))
    legend = tuple((name, colours[name]) for name in series)
    return Chart(width, height, tuple(bars), tuple(labels), peak, legend)
