"""The product's errors, each with the plain words a viewer is shown.

`str(error)` is the detail for the operator and the server log (it may name the server or
the statement); `error.viewer_message` is what a dashboard viewer reads: what happened and
what to do next, never an address, SQL or a stack trace.
"""

from __future__ import annotations


class OutcomesError(Exception):
    """Base of every error the product raises on purpose."""

    viewer_message = "Something went wrong. Try again; if it lasts, tell the dashboard's team."


class DatabaseUnavailable(OutcomesError):
    """The database cannot be reached or failed while answering."""

    viewer_message = (
        "The outcomes database is not answering right now. The dashboard tries again by "
        "itself; if this lasts more than a few minutes, tell the dashboard's team."
    )


class QueryTimeout(OutcomesError):
    """A read ran longer than the configured timeout."""

    viewer_message = (
        "This view took too long to compute. Narrow the filters (fewer months, states or "
        "programs) and try again."
    )


class ResultTooLarge(OutcomesError):
    """A read returned more rows than the configured limit."""

    viewer_message = "This view has too many rows to show. Narrow the filters and try again."


class DatabaseNotReady(OutcomesError):
    """The database has no outcomes tables or no data yet; the message says what to run."""

    @property
    def viewer_message(self) -> str:  # type: ignore[override]
        return str(self)


class DisclosureRefused(OutcomesError):
    """A figure withheld so that no small count can be worked out; the message says why."""

    @property
    def viewer_message(self) -> str:  # type: ignore[override]
        return str(self)


class InputError(OutcomesError, ValueError):
    """Input that is wrong (a file, a filter, an argument); the message names what and where."""

    @property
    def viewer_message(self) -> str:  # type: ignore[override]
        return str(self)
