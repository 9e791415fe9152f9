"""Sizes of the Plotly figures a page sends: points per trace, bytes per figure."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

MAX_POINTS_PER_TRACE = 2_000
MAX_FIGURE_BYTES = 500 * 1024
ARRAY_KEYS = (
    "x",
    "y",
    "z",
    "lat",
    "lon",
    "locations",
    "values",
    "labels",
    "text",
    "customdata",
    "hovertext",
)


def is_typed_array(value: Any) -> bool:
    return isinstance(value, dict) and "bdata" in value and "dtype" in value


def decode(value: Any) -> np.ndarray | list[Any] | None:
    """An array of a figure spec: a list, or plotly's base64 typed array, as an array."""
    if is_typed_array(value):
        data = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        if shape:
            dims = [int(part) for part in str(shape).split(",")]
            data = data.reshape(dims)
        return data
    if isinstance(value, (list, tuple)):
        return list(value)
    return None


def trace_points(trace: dict[str, Any]) -> int:
    """The longest data array of a trace (the number of points it draws)."""
    longest = 0
    for key in ARRAY_KEYS:
        array = decode(trace.get(key))
        if array is not None:
            longest = max(longest, len(array))
    return longest


def figure_facts(spec_json: str, spec: dict[str, Any]) -> dict[str, Any]:
    points = [trace_points(trace) for trace in spec.get("data", [])]
    return {
        "bytes": len(spec_json.encode()),
        "traces": len(points),
        "points": int(sum(points)),
        "max_trace_points": max(points, default=0),
        "types": sorted({str(trace.get("type", "scatter")) for trace in spec.get("data", [])}),
        "ok": max(points, default=0) <= MAX_POINTS_PER_TRACE
        and len(spec_json.encode()) <= MAX_FIGURE_BYTES,
    }
