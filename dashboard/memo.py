"""Figures and small tables kept for the next run that asks for the same ones.

A warm rerun reads its frames from the cache, unchanged, and then spends most of its own
Python rebuilding the same figures from them (pandas shaping, then Plotly validating every
trace). A function decorated with `kept` runs once per distinct input: a frame argument is
keyed by a digest of all it holds (not a sample, so two frames that differ anywhere never
share an answer), any other argument by its value.

What is kept is shared by every session, so it must be the same for everyone given the same
input (a builder reads nothing but its arguments, constants and the small-cell threshold,
which is part of the key) and callers never change it:
a figure is drawn and read, never updated; a frame is handed out as a copy.
"""

from __future__ import annotations

import functools
import hashlib
import pickle
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, ParamSpec, TypeVar, cast

import pandas as pd

from dashboard.formatting import suppressed_text

P = ParamSpec("P")
R = TypeVar("R")

# A kept answer's size follows its frames' (a figure holds their values as arrays and hover
# text: about 1.1x their pickle at 9M claims, where a trend of every state is 2 MB), so the
# bound is on the pickled frames: about this much memory, whatever the mix of figures.
MAX_FRAME_BYTES = 64 * 1024 * 1024
_ENTRY_BYTES = 4096  # an answer's own weight beside its frames (a figure's layout)

_kept: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
_kept_bytes = 0
_lock = threading.Lock()


def _key_part(value: Any) -> tuple[Hashable, int]:
    """The value's part of the key, and its weight in bytes. A frame's part is a digest of its
    pickle: equal digests mean equal pickles, which unpickle to equal frames (columns, types,
    index and every value); equal frames pickled differently only miss. Faster than hashing
    each row (pd.util.hash_pandas_object) on these frames."""
    if isinstance(value, pd.DataFrame):
        pickled = pickle.dumps(value, protocol=5)
        return (pd.DataFrame, hashlib.blake2b(pickled, digest_size=20).digest()), len(pickled)
    hash(value)  # an unhashable argument raises TypeError: the call is not kept
    return (type(value), value), 0


def _handed_out(answer: R) -> R:
    return cast(R, answer.copy()) if isinstance(answer, pd.DataFrame) else answer


def kept(function: Callable[P, R]) -> Callable[P, R]:
    """`function`'s answer kept by its arguments (least recently used dropped first, past
    MAX_FRAME_BYTES of frames)."""

    @functools.wraps(function)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        arguments = [*enumerate(args), *sorted(kwargs.items())]
        try:
            parts = [(position, *_key_part(value)) for position, value in arguments]
        except TypeError:  # a value that cannot be keyed exactly: build it every time
            return function(*args, **kwargs)
        key = (
            function.__module__,
            function.__qualname__,
            suppressed_text(),  # the one setting a builder's words read
            tuple((position, part) for position, part, _ in parts),
        )
        weight = _ENTRY_BYTES + sum(size for _, _, size in parts)
        global _kept_bytes
        with _lock:
            if key in _kept:
                _kept.move_to_end(key)
                return _handed_out(cast(R, _kept[key][0]))
        answer = function(*args, **kwargs)
        with _lock:
            if key not in _kept:
                _kept[key] = (answer, weight)
                _kept_bytes += weight
            while _kept_bytes > MAX_FRAME_BYTES and len(_kept) > 1:
                _kept_bytes -= _kept.popitem(last=False)[1][1]
        return _handed_out(answer)

    return call


def clear() -> None:
    global _kept_bytes
    with _lock:
        _kept.clear()
        _kept_bytes = 0
