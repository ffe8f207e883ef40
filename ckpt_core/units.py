"""Human-readable units for reports (bytes, FLOPs)."""

from __future__ import annotations


def fmt_bytes(n: int | float) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover


def fmt_flops(n: int | float) -> str:
    value = float(n)
    for unit in ("", "K", "M", "G", "T", "P"):
        if abs(value) < 1000 or unit == "P":
            return f"{int(value)} FLOP" if unit == "" else f"{value:.2f} {unit}FLOP"
        value /= 1000
    return f"{value:.2f} PFLOP"  # pragma: no cover


def fmt_seconds(s: float | None) -> str:
    """Seconds in the unit that fits (ns, µs, ms, s); `–` for None."""
    if s is None:
        return "–"
    v = abs(float(s))
    if v == 0:
        return "0 s"
    div, unit = (1e-9, "ns") if v < 1e-6 else (1e-6, "µs") if v < 1e-3 else (
        (1e-3, "ms") if v < 1 else (1.0, "s"))
    return f"{float(s) / div:.2f} {unit}"


def fmt_pct(f: float | None) -> str:
    return "–" if f is None else f"{f * 100:.1f} %"
