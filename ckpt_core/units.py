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
