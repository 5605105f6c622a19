"""The dashboard's inline-SVG bar chart: geometry a template draws without any script."""

from __future__ import annotations

from collections import Counter

from postwarden.console.chart import ACTION_COLOURS, OTHER, PALETTE, stacked_bars
from postwarden.console.stats import VerdictStats, top_rules


def test_bars_stack_per_day_in_proportion_to_the_busiest_day() -> None:
    days = ["2026-01-01", "2026-01-02", "2026-01-03"]
    counts = {"2026-01-01": {"deliver": 3, "hold": 1}, "2026-01-03": {"reject": 2}}
    chart = stacked_bars(days, counts, height=224)  # a plot of 190 px
    assert chart.peak == 4
    first = [b for b in chart.bars if b.title.startswith("2026-01-01")]
    assert [b.colour for b in first] == [ACTION_COLOURS["deliver"], ACTION_COLOURS["hold"]]
    assert [b.height for b in first] == [142.5, 47.5]
    assert first[1].y + first[1].height == first[0].y  # hold sits on top of deliver
    assert not [b for b in chart.bars if b.title.startswith("2026-01-02")]
    [rejects] = [b for b in chart.bars if "reject" in b.title]
    assert rejects.height == 95.0
    assert rejects.x > first[0].x


def test_an_empty_window_draws_no_bars() -> None:
    chart = stacked_bars(["2026-01-01"], {})
    assert chart.bars == ()
    assert chart.peak == 0


def test_labels_never_crowd() -> None:
    days = [f"2026-01-{d:02d}" for d in range(1, 31)]
    assert len(stacked_bars(days, {}).labels) <= 8


def test_rule_series_get_palette_colours_and_the_rest_is_other() -> None:
    stats = VerdictStats(days=["2026-01-01"])
    stats.by_day_rule["2026-01-01"] = Counter({f"rule-{i}": 10 - i for i in range(8)})
    stats.by_rule.update(stats.by_day_rule["2026-01-01"])
    series, days = top_rules(stats, n=6)
    assert series == [f"rule-{i}" for i in range(6)] + ["other"]
    assert days["2026-01-01"]["other"] == (10 - 6) + (10 - 7)
    chart = stacked_bars(stats.days, days, series=series)
    assert dict(chart.legend)["rule-0"] == PALETTE[0]
    assert dict(chart.legend)["other"] == OTHER
