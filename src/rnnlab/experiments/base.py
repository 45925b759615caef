"""The contract every section of the lab (q1, q2, q3, exercises) follows.

A section module ``rnnlab.experiments.<name>`` defines:

- ``NAME`` (e.g. ``"q1"``) and ``TITLE`` (a human title for the report);
- a frozen ``Config`` dataclass with every setting of the section (no magic numbers elsewhere),
  built by ``build_config(profile, seed, **options)`` where ``profile`` is one of
  :data:`PROFILES` and ``options`` are the section's own command-line options;
- ``add_arguments(parser)`` adding those options to the ``rnnlab run`` parser (may add none);
- ``options_from_args(args) -> dict`` picking them back out of the parsed namespace;
- ``run(config, ctx) -> SectionResult`` doing the work, saving figures under
  ``ctx.figures_dir`` and returning every number it shows.

The runner (:mod:`rnnlab.experiments.runner`) writes ``metrics.json``, ``observations.md`` and
``section.json`` from the :class:`SectionResult`; the report and the notebooks read them.
Observations are sentences computed from measured numbers, never fixed text about results.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROFILES = ("quick", "default", "full")


@dataclass(frozen=True)
class RunContext:
    """Where and how a section runs.

    Attributes
    ----------
    out_dir : Path
        The section's results folder, e.g. ``results/q1``.
    profile : str
        ``"quick"`` (seconds, for tests), ``"default"`` (minutes on 2 CPU cores) or ``"full"``.
    seed : int
        Base seed; every random choice of the section derives from it.
    device : str
        ``"cpu"`` or ``"cuda"`` (already resolved and checked).
    progress : bool
        Whether to show progress bars.
    """

    out_dir: Path
    profile: str = "default"
    seed: int = 0
    device: str = "cpu"
    progress: bool = True

    @property
    def figures_dir(self) -> Path:
        path = self.out_dir / "figures"
        path.mkdir(parents=True, exist_ok=True)
        return path


@dataclass
class Figure:
    """A saved figure: its file (relative to the section folder) and a caption."""

    path: str
    caption: str


@dataclass
class Table:
    """A small table for the report: a title, column names and rows of cells."""

    title: str
    columns: list[str]
    rows: list[list[Any]]


@dataclass
class SectionResult:
    """Everything a section measured and shows."""

    name: str
    title: str
    config: dict[str, Any]
    metrics: dict[str, Any]
    observations: list[str]
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    text_blocks: dict[str, str] = field(default_factory=dict)  # e.g. sampled text, printed output

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SectionResult":
        return cls(
            name=data["name"],
            title=data["title"],
            config=data["config"],
            metrics=data["metrics"],
            observations=list(data["observations"]),
            figures=[Figure(**f) for f in data.get("figures", [])],
            tables=[Table(**t) for t in data.get("tables", [])],
            text_blocks=dict(data.get("text_blocks", {})),
        )


def config_to_dict(config: Any) -> dict[str, Any]:
    """A JSON-friendly dict of a config dataclass (paths as strings, tuples as lists)."""

    def convert(value: Any) -> Any:
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, (list, tuple)):
            return [convert(v) for v in value]
        if isinstance(value, dict):
            return {str(k): convert(v) for k, v in value.items()}
        return value

    return {k: convert(v) for k, v in dataclasses.asdict(config).items()}
