"""Running an evaluation with a deadline, off the event loop.

Policies are total, but a large input or a costly aggregate can still take longer
than the API server waits. Each evaluation runs on a bounded thread pool; the
caller stops waiting at the deadline (and answers per the failure mode), and the
evaluation itself stops at the next policy boundary, so a slow policy cannot pile
up work behind it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["Deadline", "DeadlineExceeded", "Evaluator", "PolicyTimer"]

T = TypeVar("T")


class DeadlineExceeded(Exception):
    """The evaluation did not finish in time."""


class Deadline:
    """A point in time; :meth:`check` raises once it has passed."""

    __slots__ = ("end", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.end - time.monotonic()

    def expire(self) -> None:
        self.end = 0.0

    def check(self) -> None:
        if time.monotonic() > self.end:
            raise DeadlineExceeded(f"evaluation exceeded its deadline of {self.seconds * 1000:.0f} ms")


class PolicyTimer:
    """The ``progress`` callback of ``evaluate``: times each policy and checks the deadline.

    ``evaluate`` calls it after each policy that ran, so the time since the previous call
    is that policy's. Raising from it stops the remaining policies.
    """

    __slots__ = ("deadline", "last", "times")

    def __init__(self, deadline: Deadline | None) -> None:
        self.deadline = deadline
        self.last = time.perf_counter()
        self.times: list[tuple[tuple[str], float]] = []

    def __call__(self, policy_id: str) -> None:
        now = time.perf_counter()
        self.times.append(((policy_id,), now - self.last))
        self.last = now
        if self.deadline is not None:
            self.deadline.check()


class Evaluator:
    """A bounded pool of evaluation threads."""

    def __init__(self, workers: int = 4) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="regie-eval")

    async def run(self, fn: Callable[[Deadline], T], seconds: float) -> T:
        """``fn(deadline)`` on a worker; :class:`DeadlineExceeded` when it is not done in ``seconds``.

        Time spent queued for a worker counts: the API server's clock does not stop either.
        """
        deadline = Deadline(seconds)
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, _started, fn, deadline)
        try:
            return await asyncio.wait_for(future, timeout=max(deadline.remaining(), 0.0))
        except TimeoutError:
            deadline.expire()  # the worker stops at its next policy boundary
            raise DeadlineExceeded(f"evaluation exceeded its deadline of {seconds * 1000:.0f} ms") from None

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _started(fn: Callable[[Deadline], T], deadline: Deadline) -> T:
    deadline.check()  # it may have passed while queued
    return fn(deadline)
