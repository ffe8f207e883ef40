"""The status palette: one colour per node status and per diff change, for every view.

The graph SVG, the browser pages (as CSS variables, `stylesheet()`), the HTML reports and the
Plotly charts all read these, so "recomputed" is the same colour wherever it appears. Each status
has a strong colour (pills, badges, chart lines, proportion bars) and a light tint (node and row
backgrounds, where dark text must stay legible).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

#: status → (strong colour, light tint)
STATUS: Mapping[str, tuple[str, str]] = MappingProxyType({
    "saved": ("#e0831a", "#f8d3a6"),
    "recomputed": ("#2e8b57", "#b7dcc6"),
    "recompute": ("#2e8b57", "#b7dcc6"),
    "forward_only": ("#9aa5b4", "#e1e5eb"),
    "gradient": ("#7b5ea7", "#d9cdea"),
    "parameter": ("#c9d3e0", "#eef2f7"),
    "input": ("#8fb3e8", "#dfe9f8"),
    "tangent": ("#d6a2c8", "#f3e2ee"),
    "output": ("#444c57", "#ffffff"),
    "unused": ("#b0709f", "#f3e1f3"),
    "mixed": ("#6b7a90", "#eef2f8"),
})

#: diff change kind → colour (node fills of the diff overlay, table rows of the diff report)
CHANGE: Mapping[str, str] = MappingProxyType({
    "added": "#4caf50", "removed": "#e57373", "moved": "#f4c20d", "policy": "#fbeeb8",
    "same": "#e9edf3",
})


def color(status: str) -> str:
    """The strong colour of `status` (grey for a status the palette does not know)."""
    return STATUS.get(status, STATUS["mixed"])[0]


def tint(status: str) -> str:
    """The light tint of `status` (white for a status the palette does not know)."""
    return STATUS.get(status, ("", "#ffffff"))[1]


def _var(name: str) -> str:
    return name.replace("_", "-")


def css_variables() -> str:
    """`--<status>` and `--<status>-tint` (underscores as dashes), `--chg-<kind>`, one per line."""
    lines = []
    for status, (strong, light) in STATUS.items():
        lines.append(f"--{_var(status)}: {strong}; --{_var(status)}-tint: {light};")
    lines += [f"--chg-{kind}: {value};" for kind, value in CHANGE.items()]
    return "\n".join(lines)


def stylesheet() -> str:
    """The palette as a stylesheet (`:root` variables); the pages and reports include it."""
    return ":root {\n" + css_variables() + "\n}\n"
