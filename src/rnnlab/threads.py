"""One place that decides how many CPU threads the numerical libraries use.

The lab's models are small (hidden sizes 4-128, batches of tens to a few hundred): splitting each
small matrix product over several threads costs more in synchronisation than it saves, and on a
machine whose cores are shared it is several times slower (measured on our 2-core machines: 3-5x
per NumPy-engine update, up to 15x for small PyTorch models). Sections therefore run their work
inside :func:`limit_threads`, which is scoped: the previous settings come back afterwards.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from rnnlab.errors import ConfigError


@contextlib.contextmanager
def limit_threads(n: int | None = 1) -> Iterator[None]:
    """Run the block with at most ``n`` threads in BLAS/OpenMP pools (threadpoolctl) and in
    PyTorch's intra-op pool; ``n=None`` leaves every setting alone."""
    if n is None:
        yield
        return
    if not isinstance(n, int) or n < 1:
        raise ConfigError(f"expected a thread count >= 1 or None, found {n!r}")
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(max(1, min(n, before)))
    try:
        with threadpool_limits(limits=n):
            yield
    finally:
        torch.set_num_threads(before)


# --------------------------------------------------------------------------------------------
# The NumPy engine's own helper thread
# --------------------------------------------------------------------------------------------
#
# The engine's fast path (rnnlab.scratch.functional) can run its bulk work (input projections,
# weight gradients, transposes) on one helper thread beside the recurrence, each BLAS call on one
# BLAS thread. That thread blocks while it has nothing to do (it never spins like a BLAS pool),
# so it is allowed inside limit_threads(1), which bounds the BLAS/OpenMP/torch pools only. The
# numbers it produces are bitwise the same with or without it.

_ENGINE_THREADS: list[int | None] = [None]  # None: automatic (2 where the machine has 2+ CPUs)


def engine_threads() -> int:
    """How many threads the NumPy engine may use per layer call: 1 (inline) or 2 (one helper).

    Set by :func:`limit_engine_threads`, else the environment variable ``RNNLAB_ENGINE_THREADS``,
    else 2 when the machine has at least 2 CPUs.
    """
    n = _ENGINE_THREADS[0]
    if n is None:
        env = os.environ.get("RNNLAB_ENGINE_THREADS", "").strip()
        if env:
            if not env.isdigit() or int(env) < 1:
                raise ConfigError(f"expected RNNLAB_ENGINE_THREADS to be an int >= 1, found {env!r}")
            n = int(env)
        else:
            n = os.cpu_count() or 1
    return 2 if n >= 2 else 1


@contextlib.contextmanager
def limit_engine_threads(n: int | None) -> Iterator[None]:
    """Run the block with the NumPy engine on at most ``n`` threads (1: no helper thread);
    ``None`` restores the automatic choice. Scoped like :func:`limit_threads`."""
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
        raise ConfigError(f"expected an engine thread count >= 1 or None, found {n!r}")
    before = _ENGINE_THREADS[0]
    _ENGINE_THREADS[0] = n
    try:
        yield
    finally:
        _ENGINE_THREADS[0] = before
