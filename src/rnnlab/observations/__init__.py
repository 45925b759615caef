"""The sentences of the lab: one module per section, each sentence a function of measured numbers.

``rnnlab.observations.<section>.observations(metrics, config) -> list[str]`` turns the numbers a
section saved in ``metrics.json`` into the sentences of its ``observations.md`` and report. Every
rule (threshold, comparison, branch) lives here, next to the other sentences of its section, and
is tested with fabricated numbers on both sides of each threshold. Nothing here trains, loads
data or draws.
"""

from collections.abc import Mapping, Sequence
from typing import Any

#: The report's summary shows at most this many key findings per section.
MAX_FINDINGS = 6


def top_findings(candidates: Sequence[tuple[int, Any]], limit: int = MAX_FINDINGS) -> list[Any]:
    """The first ``limit`` findings by priority (lower first), in candidate order within one.

    ``candidates`` are ``(priority, finding)`` pairs; every section ranks failures first, then
    results against expectation, then the largest effects, then confirmations.
    """
    ranked = sorted(enumerate(candidates), key=lambda item: (item[1][0], item[0]))
    return [finding for _, (_, finding) in ranked[:limit]]


def setting(config: Any, name: str, default: Any = None) -> Any:
    """A config value, from a Config dataclass or its dict form (as section.json saves it)."""
    if isinstance(config, Mapping):
        return config.get(name, default)
    return getattr(config, name, default)
