"""The exception tree crosses process boundaries as JSON and keeps its type."""

from __future__ import annotations

from ckpt_core import errors


def test_round_trip_keeps_type_and_line() -> None:
    e = errors.GraphBreakError("graph break at print", line=7)
    again = errors.CkptError.from_dict(e.to_dict())
    assert type(again) is errors.GraphBreakError
    assert isinstance(again, errors.CompileError)
    assert again.line == 7 and again.message == "graph break at print"
    assert e.to_dict()["code"] == "graph_break"


def test_unknown_type_falls_back_to_base() -> None:
    again = errors.CkptError.from_dict({"type": "Nope", "message": "m", "line": "x"})
    assert type(again) is errors.CkptError and again.line is None
