"""A second lane for the fast path: bulk work on a helper thread beside the recurrence.

The recurrence itself is sequential, but much of a sequence's work is not: the input projections
of all steps before the loop, and after it (or as soon as a chunk of steps is done) the weight
gradients, dx and the transposes back to the caller's layout. :class:`Lane` runs such tasks on
one helper thread while the caller runs the loop. NumPy's BLAS calls and its large ufuncs release
the GIL, so the two threads overlap.

Results never depend on the lane: every task writes its own slice of an output, each BLAS call
is the same call with the same shapes as when run inline (one BLAS thread each), and sums over
time are done in one fixed order (a task may wait for its predecessor). ``Lane(enabled=False)``
runs every task inline at once, giving bitwise the same numbers.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable


class _Helper:
    """One daemon thread that runs the tasks of the active :class:`Lane`, in order."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.cond = threading.Condition()
        self.lane: Lane | None = None
        self.busy = threading.Lock()  # held by the one Lane that uses the helper
        threading.Thread(target=self._loop, name="rnnlab-engine-lane", daemon=True).start()

    def _loop(self) -> None:
        while True:
            with self.cond:
                while self.lane is None or not self.lane._has_unclaimed():
                    self.cond.wait()
                lane = self.lane
            lane._run_next()


_helper: _Helper | None = None
_helper_lock = threading.Lock()


def _get_helper() -> _Helper:
    global _helper
    with _helper_lock:
        if _helper is None or _helper.pid != os.getpid():  # a forked child has no helper thread
            _helper = _Helper()
        return _helper


class Lane:
    """Ordered tasks that a helper thread runs while the caller continues.

    ``add(fn, after=k)`` queues ``fn`` (to start only once task ``k`` has finished) and returns
    its index; ``wait(k)`` returns once task ``k`` has run, running queued tasks itself rather
    than idling; ``finish()`` waits for all and re-raises a task's exception. Use as a context
    manager so the helper is released even on an error.

    With ``enabled=False`` (or when another Lane holds the helper) each task runs inline in
    ``add``.
    """

    def __init__(self, enabled: bool = True) -> None:
        self._helper = None
        if enabled:
            helper = _get_helper()
            if helper.busy.acquire(blocking=False):
                self._helper = helper
        self._tasks: list[tuple[Callable[[], None], int | None]] = []
        self._done: list[threading.Event] = []
        self._next = 0  # the next task nobody has claimed
        self._lock = threading.Lock()
        self._error: BaseException | None = None
        if self._helper is not None:
            with self._helper.cond:
                self._helper.lane = self

    @property
    def parallel(self) -> bool:
        """True when a helper thread runs the tasks."""
        return self._helper is not None

    def add(self, fn: Callable[[], None], after: int | None = None) -> int:
        index = len(self._tasks)
        if self._helper is None:
            fn()
            self._tasks.append((fn, after))
            self._next = index + 1
            return index
        with self._lock:
            self._tasks.append((fn, after))
            self._done.append(threading.Event())
        with self._helper.cond:
            self._helper.cond.notify()
        return index

    def _has_unclaimed(self) -> bool:
        return self._next < len(self._tasks)

    def _claim(self) -> int | None:
        with self._lock:
            if self._next >= len(self._tasks):
                return None
            self._next += 1
            return self._next - 1

    def _run_next(self) -> bool:
        k = self._claim()
        if k is None:
            return False
        fn, after = self._tasks[k]
        try:
            if after is not None:
                self._done[after].wait()
            if self._error is None:
                fn()
        except BaseException as exc:  # noqa: BLE001 (re-raised by the caller in finish())
            self._error = exc
        finally:
            self._done[k].set()
        return True

    def wait(self, index: int) -> None:
        if self._helper is None:
            return
        while not self._done[index].is_set():
            if not self._run_next():
                self._done[index].wait()
        self._raise()

    def finish(self) -> None:
        if self._tasks and self._helper is not None:
            self.wait(len(self._tasks) - 1)
            for event in self._done:
                event.wait()
        self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        """Skip the tasks nobody has started, wait for those running, hand the helper back."""
        if self._helper is None:
            return
        with self._lock:
            started = self._next
            self._next = len(self._tasks)  # nobody claims anything more
        for k in range(started, len(self._tasks)):
            self._done[k].set()
        for k in range(started):
            self._done[k].wait()
        with self._helper.cond:
            self._helper.lane = None
        self._helper.busy.release()
        self._helper = None

    def __enter__(self) -> Lane:  # noqa: PYI034
        return self

    def __exit__(self, *exc) -> None:
        self.close()
