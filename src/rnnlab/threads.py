"""One place that decides how many CPU threads the numerical libraries use.

The lab's models are small (hidden sizes 4-128, batches of tens to a few hundred): splitting each
small matrix product over several threads costs more in synchronisation than it saves, and on a
machine whose cores are shared it is several times slower (measured on our 2-core machines: 3-5x
per NumPy-engine update, up to 15x for small PyTorch models). Sections therefore run their work
inside :func:`limit_threads`, which is scoped: the previous settings come back afterwards.
"""

from __future__ import annotations

import contextlib
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
