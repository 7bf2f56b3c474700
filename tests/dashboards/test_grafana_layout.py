"""The grid helper: panels flow left to right, wrap, rows start a line; nothing ever overlaps."""

from __future__ import annotations

import itertools
import random

import pytest

from obs.grafana.layout import GRID_WIDTH, Box, Placement, place


@pytest.mark.parametrize(
    ("boxes", "expected"),
    [
        pytest.param([Box(12, 8), Box(12, 8)], [(0, 0), (12, 0)], id="two halves share a line"),
        pytest.param([Box(12, 8), Box(13, 8)], [(0, 0), (0, 8)], id="a panel that does not fit wraps"),
        pytest.param(
            [Box(6, 5), Box(18, 8), Box(24, 3)],
            [(0, 0), (6, 0), (0, 8)],
            id="a line is as tall as its tallest panel",
        ),
        pytest.param(
            [Box(6, 4), Box(24, 1, is_row=True), Box(6, 4)],
            [(0, 0), (0, 4), (0, 5)],
            id="a row starts a new line",
        ),
        pytest.param(
            [Box(24, 1, is_row=True), Box(24, 1, is_row=True)], [(0, 0), (0, 1)], id="empty rows stack"
        ),
    ],
)
def test_placement(boxes: list[Box], expected: list[tuple[int, int]]) -> None:
    assert [(p.x, p.y) for p in place(boxes)] == expected


@pytest.mark.parametrize("seed", range(20))
def test_no_two_placements_overlap_whatever_the_sizes(seed: int) -> None:
    rng = random.Random(seed)
    boxes = [
        Box(24, 1, is_row=True)
        if rng.random() < 0.15
        else Box(rng.randint(1, GRID_WIDTH), rng.randint(1, 10))
        for _ in range(40)
    ]
    placements = place(boxes)
    for a, b in itertools.combinations(placements, 2):
        assert not a.overlaps(b), (a, b)
    assert all(p.x + p.w <= GRID_WIDTH for p in placements)


@pytest.mark.parametrize("box", [Box(0, 4), Box(25, 4), Box(6, 0)])
def test_sizes_outside_the_grid_are_refused(box: Box) -> None:
    with pytest.raises(ValueError, match="does not fit"):
        place([box])


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        (Placement(0, 0, 12, 8), Placement(12, 0, 12, 8), False),
        (Placement(0, 0, 12, 8), Placement(11, 7, 2, 2), True),
        (Placement(0, 0, 12, 8), Placement(0, 8, 12, 8), False),
    ],
)
def test_overlap_is_strict(a: Placement, b: Placement, overlap: bool) -> None:
    assert a.overlaps(b) is overlap
    assert b.overlaps(a) is overlap
