"""The contract every section of the lab (q1, q2, q3, exercises) follows.

A section module ``rnnlab.experiments.<name>`` reads top to bottom as *measure once, then
tell*. It defines:

- ``NAME`` (e.g. ``"q1"``) and ``TITLE`` (a human title for the report);
- a frozen ``Config`` dataclass with every setting of the section. The settings a user may
  change on the command line are declared once, on their field, with :func:`option` (help,
  choices, range); ``rnnlab run`` generates its flags from them;
- ``PROFILE_OVERRIDES``: the fields each profile (``quick``, ``default``, ``full``) changes;
- ``build_config(profile, seed, options) -> Config``: the same signature in every section;
  :func:`make_config` does the checking, the section adds what derives from the options;
- optionally ``check(config, out_dir)``: what can only be checked against the results folder
  (with ``--resume``: the saved units fit this config and are intact), called before anything
  of a previous run is cleared, so that a refused run changes nothing;
- ``measure(config, ctx) -> dict``: all the training and measuring, nothing else. It returns
  the measurements (saved as ``metrics.json``) and may save artifacts (checkpoints, arrays)
  under ``ctx.out_dir``;
- ``present(metrics, config, out_dir) -> Presentation``: everything a reader sees (sentences,
  figures drawn by :mod:`rnnlab.viz`, tables, captions, text blocks), a pure function of the
  saved measurements and artifacts. ``rnnlab report --rebuild`` calls it again on a results
  folder without retraining.

The runner (:mod:`rnnlab.experiments.runner`) saves the measurements, reads them back, and
passes what it read to ``present``, so that every sentence is computed from what is on disk.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnlab.errors import ConfigError
from rnnlab.results import Figure, Presentation, SectionResult, Table  # noqa: F401 (re-exported)

PROFILES = ("quick", "default", "full")
RESUME_HELP = ("continue an interrupted run from its finished units, checked before any work "
               "(q1: the (task, cell, seed) runs; q2: every epoch's checkpoints; exercises: the parts)")
MAX_SEED = 2**32 - 1  # NumPy's legacy seeding and torch.manual_seed both accept this range


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


# --------------------------------------------------------------------------------------------
# Options, declared once on the Config
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """How a Config field appears on the command line.

    Attributes
    ----------
    help : str
        One line for ``rnnlab run --help``.
    flag : str, optional
        The flag; default ``--`` plus the field name with dashes.
    choices : tuple, optional
        The allowed values.
    minimum, maximum : float, optional
        The allowed range (inclusive) of a number.
    metavar : str, optional
        The placeholder shown in the help.
    """

    help: str
    flag: str | None = None
    choices: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    metavar: str | None = None


def option(default: Any, help: str, **spec: Any) -> Any:
    """A Config field that the user may set on the command line (see :class:`Option`).

    Examples
    --------
    >>> @dataclass(frozen=True)
    ... class Config:
    ...     epochs: int = option(20, "epochs on the images", minimum=1, metavar="N")
    """
    return dataclasses.field(default=default, metadata={"option": Option(help, **spec)})


@dataclass(frozen=True)
class DeclaredOption:
    """A Config field declared with :func:`option`, with its value type."""

    name: str
    spec: Option
    kind: type  # int, float, str or bool
    optional: bool  # None is allowed
    default: Any

    @property
    def flag(self) -> str:
        return self.spec.flag or "--" + self.name.replace("_", "-")


def _value_type(annotation: Any) -> tuple[type, bool]:
    """(base type, None allowed) of a field annotation such as ``int | None``."""
    optional = False
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        annotation = args[0] if len(args) == 1 else annotation
    if annotation not in (int, float, str, bool):
        raise TypeError(f"an option must be int, float, str or bool (optionally None), found {annotation!r}")
    return annotation, optional


def declared_options(config_cls: type) -> dict[str, DeclaredOption]:
    """The options a Config class declares, by field name, in field order."""
    hints = typing.get_type_hints(config_cls)
    out: dict[str, DeclaredOption] = {}
    for f in dataclasses.fields(config_cls):
        spec = f.metadata.get("option")
        if spec is None:
            continue
        kind, optional = _value_type(hints[f.name])
        out[f.name] = DeclaredOption(f.name, spec, kind, optional, f.default)
    return out


def check_option(opt: DeclaredOption, value: Any) -> Any:
    """``value`` checked against the option's type, choices and range (ints accepted as floats).

    Raises
    ------
    ConfigError
        One line: "expected <what> for --flag, found <value>".
    """
    spec = opt.spec
    if value is None:
        if opt.optional:
            return None
        raise ConfigError(f"expected a value for {opt.flag}, found none")
    if opt.kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"expected true or false for {opt.flag}, found {value!r}")
        return value
    if opt.kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"expected an integer for {opt.flag}, found {value!r}")
    if opt.kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"expected a number for {opt.flag}, found {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(f"expected a finite number for {opt.flag}, found {value!r}")
    if opt.kind is str and not isinstance(value, str):
        raise ConfigError(f"expected text for {opt.flag}, found {value!r}")
    if opt.kind is str and spec.choices is None and not value:
        raise ConfigError(f"expected a non-empty value for {opt.flag}, found ''")
    if spec.choices is not None and value not in spec.choices:
        listed = ", ".join(str(c) for c in spec.choices)
        raise ConfigError(f"expected one of {listed} for {opt.flag}, found {value!r}")
    low, high = spec.minimum, spec.maximum
    if (low is not None and value < low) or (high is not None and value > high):
        if high is None:
            want = f"a value >= {low:g}"
        elif low is None:
            want = f"a value <= {high:g}"
        else:
            want = f"a value from {low:g} to {high:g}"
        raise ConfigError(f"expected {want} for {opt.flag}, found {value!r}")
    return value


def check_profile(profile: Any) -> str:
    if profile not in PROFILES:
        raise ConfigError(f"expected a profile in {', '.join(PROFILES)}, found {profile!r}")
    return profile


def check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"expected a seed from 0 to {MAX_SEED}, found {seed!r}")
    return seed


def make_config(
    config_cls: type,
    overrides: Mapping[str, Mapping[str, Any]],
    profile: str,
    seed: int,
    options: Mapping[str, Any] | None,
    section: str = "this section",
) -> Any:
    """A section's Config: its defaults, then the profile's overrides, then the user's options.

    Every option is checked (:func:`check_option`) and must be one the Config declares.

    Raises
    ------
    ConfigError
        For an unknown profile, a bad seed, an undeclared option or a bad option value.
    """
    check_profile(profile)
    check_seed(seed)
    declared = declared_options(config_cls)
    options = dict(options or {})
    unknown = sorted(set(options) - set(declared))
    if unknown:
        listed = ", ".join(o.flag for o in declared.values()) or "none"
        raise ConfigError(
            f"expected options of {section} ({listed}), found {', '.join(unknown)}"
        )
    checked = {k: check_option(declared[k], v) for k, v in options.items()}
    return config_cls(profile=profile, seed=seed, **{**overrides[profile], **checked})


# --------------------------------------------------------------------------------------------
# Configs to and from JSON
# --------------------------------------------------------------------------------------------


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


def _from_json(annotation: Any, value: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _from_json(args[0], value) if len(args) == 1 else value
    if dataclasses.is_dataclass(annotation) and isinstance(value, dict):
        return config_from_dict(annotation, value)
    if origin is tuple and isinstance(value, list):
        args = typing.get_args(annotation)
        item = args[0] if args else Any
        return tuple(_from_json(item, v) for v in value)
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def config_from_dict(config_cls: type, data: Mapping[str, Any]) -> Any:
    """Rebuild a Config (nested dataclasses, tuples) from :func:`config_to_dict`'s output.

    Raises
    ------
    ConfigError
        When ``data`` lacks a field of the Config or has fields it does not know.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"expected a config object, found {type(data).__name__}")
    hints = typing.get_type_hints(config_cls)
    names = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(
            f"expected the fields of {config_cls.__qualname__}, found unknown {', '.join(unknown)}"
        )
    values = {k: _from_json(hints[k], v) for k, v in data.items()}
    try:
        return config_cls(**values)
    except TypeError as exc:
        raise ConfigError(f"expected a complete {config_cls.__qualname__}, found: {exc}") from None
