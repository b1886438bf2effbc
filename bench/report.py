"""The results table: one row per measured figure, both servers side by side."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Row:
    workload: str
    unit: str
    reference: float | None
    portal: float | None
    higher_is_better: bool = True
    target: str = ""
    # Decides pass/fail from (reference, portal); None means the row is for information.
    check: Callable[[float, float], bool] | None = None
    # A failed correctness check (lost points, wrong results) fails the row whatever the speed.
    problems: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float | None:
        """How many times better the portal is (throughput: portal/ref; time: ref/portal)."""
        if not self.reference or not self.portal:
            return None
        return (
            self.portal / self.reference if self.higher_is_better else self.reference / self.portal
        )

    @property
    def verdict(self) -> str:
        if self.problems:
            return "FAIL"
        if self.check is None or self.reference is None or self.portal is None:
            return ""
        return "pass" if self.check(self.reference, self.portal) else "FAIL"


@dataclass
class Ceiling:
    """The best a figure can be (a rate to reach, or a time that cannot be beaten)."""

    name: str
    unit: str
    value: float
    reference: float | None
    portal: float | None
    higher_is_better: bool = True

    def share(self, value: float | None) -> str:
        if not value or not self.value:
            return ""
        fraction = value / self.value if self.higher_is_better else self.value / value
        return f"{100 * fraction:.0f}%"


def number(value: float | None) -> str:
    if value is None:
        return "n/a"
    if float(value).is_integer() and abs(value) < 100:
        return str(int(value))
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


HEADER = ["workload", "unit", "reference", "portal", "x better", "target", "pass/fail"]
CEILING_HEADER = ["ceiling", "unit", "value", "reference reaches", "portal reaches"]


def _cells(row: Row) -> list[str]:
    ratio = row.ratio
    return [
        row.workload,
        row.unit,
        number(row.reference),
        number(row.portal),
        "n/a" if ratio is None else f"{ratio:.2f}x",
        row.target,
        row.verdict,
    ]


def _ceiling_cells(ceiling: Ceiling) -> list[str]:
    return [
        ceiling.name,
        ceiling.unit,
        number(ceiling.value),
        ceiling.share(ceiling.reference),
        ceiling.share(ceiling.portal),
    ]


def text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    numeric = {i for i in range(len(header)) if header[i] in {"reference", "portal", "value"}}

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    numeric = {i for i in range(len(header)) if header[i] in {"reference", "portal", "value"}}
    align = ["---:" if i in numeric else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in r) + " |" for r in rows]
    return "\n".join(lines)


def render_text(rows: list[Row], ceilings: list[Ceiling]) -> str:
    parts = [text_table(HEADER, [_cells(r) for r in rows])]
    if ceilings:
        parts.append(text_table(CEILING_HEADER, [_ceiling_cells(c) for c in ceilings]))
    return "\n\n".join(parts)


def rows_markdown(rows: list[Row]) -> str:
    return markdown_table(HEADER, [_cells(r) for r in rows])


def ceilings_markdown(ceilings: list[Ceiling]) -> str:
    return markdown_table(CEILING_HEADER, [_ceiling_cells(c) for c in ceilings])
