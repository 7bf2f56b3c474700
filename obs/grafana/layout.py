"""Grid placement: panels flow left to right on Grafana's 24-column grid, wrap to a new line when
they do not fit, and rows start a new line at full width. Positions come from the order of the
panels alone, so two panels can never overlap and reordering a dashboard is a one-line change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

GRID_WIDTH = 24


@dataclass(frozen=True, slots=True)
class Box:
    """The size a panel asks for."""

    w: int
    h: int
    is_row: bool = False


@dataclass(frozen=True, slots=True)
class Placement:
    x: int
    y: int
    w: int
    h: int

    def overlaps(self, other: Placement) -> bool:
        return (
            self.x < other.x + other.w
            and other.x < self.x + self.w
            and self.y < other.y + other.h
            and other.y < self.y + self.h
        )


def place(boxes: Iterable[Box]) -> list[Placement]:
    """Positions for ``boxes`` in order: a line is as tall as its tallest panel."""
    placements: list[Placement] = []
    x = y = line_height = 0
    for box in boxes:
        if not 1 <= box.w <= GRID_WIDTH or box.h < 1:
            raise ValueError(f"panel size {box.w}x{box.h} does not fit the {GRID_WIDTH}-column grid")
        if box.is_row or x + box.w > GRID_WIDTH:
            y, x, line_height = y + line_height, 0, 0
        placements.append(Placement(x, y, box.w, box.h))
        if box.is_row:
            y += box.h
        else:
            x += box.w
            line_height = max(line_height, box.h)
    return placements


__all__ = ["GRID_WIDTH", "Box", "Placement", "place"]
