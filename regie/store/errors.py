"""The one error the store raises for anything a person can fix: a bad URL, an unreachable server."""

from __future__ import annotations

from regie.loading import InputError

__all__ = ["StoreError"]


class StoreError(InputError):
    """``where`` is the store (its URL, password hidden) or the field; ``message`` what was expected.

    An :class:`InputError`, so the command line reports it as one line and exit 2.
    """
