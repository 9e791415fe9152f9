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

# Figures of a page are tens of kilobytes; this bounds the memory at a few tens of megabytes.
MAX_ENTRIES = 512

_kept: OrderedDict[Hashable, Any] = OrderedDict()
_lock = threading.Lock()


def frame_digest(frame: pd.DataFrame) -> bytes:
    """A digest of a frame's pickle: equal digests mean equal pickles, which unpickle to equal
    frames (columns, types, index and every value); equal frames pickled differently only
    miss. Faster than hashing each row (pd.util.hash_pandas_object) on these frames."""
    return hashlib.blake2b(pickle.dumps(frame, protocol=5), digest_size=20).digest()


def _key_part(value: Any) -> Hashable:
    if isinstance(value, pd.DataFrame):
        return (pd.DataFrame, frame_digest(value))
    hash(value)  # an unhashable argument raises TypeError: the call is not kept
    return (type(value), value)


def _handed_out(answer: R) -> R:
    return cast(R, answer.copy()) if isinstance(answer, pd.DataFrame) else answer


def kept(function: Callable[P, R]) -> Callable[P, R]:
    """`function`'s answer kept by its arguments (least recently used dropped first)."""

    @functools.wraps(function)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            key = (
                function.__module__,
                function.__qualname__,
                suppressed_text(),  # the one setting a builder's words read
                tuple(_key_part(a) for a in args),
                tuple(sorted((name, _key_part(v)) for name, v in kwargs.items())),
            )
        except TypeError:  # a value that cannot be keyed exactly: build it every time
            return function(*args, **kwargs)
        with _lock:
            if key in _kept:
                _kept.move_to_end(key)
                return _handed_out(cast(R, _kept[key]))
        answer = function(*args, **kwargs)
        with _lock:
            _kept[key] = answer
            while len(_kept) > MAX_ENTRIES:
                _kept.popitem(last=False)
        return _handed_out(answer)

    return call


def clear() -> None:
    with _lock:
        _kept.clear()
