"""Run a section of the lab into its results folder, reload it, or run everything.

A run of section ``name`` (see :mod:`rnnlab.experiments.base` for the section contract) writes::

    <out_root>/<name>/metrics.json      every number the section measured
    <out_root>/<name>/observations.md   the sentences computed from those numbers
    <out_root>/<name>/section.json      the whole SectionResult plus a "settings" block
    <out_root>/<name>/figures/*.png     the figures (written by the section)
    <out_root>/<name>/<name>.ipynb      the executed notebook (unless notebook=False)

``section.json`` is written last among the results and marks a finished run. The notebook source
``notebooks/<name>.py`` is then executed with the environment variables ``RNNLAB_OUT``,
``RNNLAB_PROFILE``, ``RNNLAB_SEED``, ``RNNLAB_DEVICE`` and ``RNNLAB_OPTIONS`` (JSON) set, so that
its ``load_or_run(name)`` finds the results just written and reuses them instead of recomputing.

Where notebook sources are found (first match wins): the ``notebook_dir`` argument, the
``RNNLAB_NOTEBOOK_DIR`` environment variable, ``notebooks/`` at the root of the source checkout
that this package was imported from (``src/rnnlab/../../notebooks``), ``notebooks/`` in the
current directory. An installed (non-editable) package has no notebook sources: run from a
clone, set ``RNNLAB_NOTEBOOK_DIR``, or skip the notebook (``notebook=False``, ``rnnlab run
--no-notebook``).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import importlib
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from rnnlab import __version__
from rnnlab.errors import ConfigError, DataError, RnnlabError
from rnnlab.experiments import registry
from rnnlab.experiments.base import PROFILES, RunContext, SectionResult, config_to_dict

DEVICES = ("auto", "cpu", "cuda")

ENV_OUT = "RNNLAB_OUT"
ENV_PROFILE = "RNNLAB_PROFILE"
ENV_SEED = "RNNLAB_SEED"
ENV_DEVICE = "RNNLAB_DEVICE"
ENV_OPTIONS = "RNNLAB_OPTIONS"
ENV_PROGRESS = "RNNLAB_PROGRESS"
ENV_NOTEBOOK_DIR = "RNNLAB_NOTEBOOK_DIR"

DEFAULT_OUT_ROOT = "results"
SECTION_FILE = "section.json"
METRICS_FILE = "metrics.json"
OBSERVATIONS_FILE = "observations.md"


# --------------------------------------------------------------------------------------------
# Sections, devices, folders
# --------------------------------------------------------------------------------------------


def section_names() -> list[str]:
    """Names of the registered sections, in report order."""
    return list(registry.SECTIONS)


def get_section(name: str) -> ModuleType:
    """Import the module of a registered section.

    Raises
    ------
    ConfigError
        When ``name`` is not a registered section (the message lists the known ones).
    RnnlabError
        When its module cannot be imported (e.g. a missing dependency).
    """
    known = section_names()
    if name not in registry.SECTIONS:
        listed = ", ".join(known) if known else "none registered"
        raise ConfigError(f"unknown section {name!r}; expected one of: {listed}")
    try:
        return importlib.import_module(registry.SECTIONS[name])
    except ImportError as exc:
        raise RnnlabError(
            f"section {name!r} cannot be loaded ({registry.SECTIONS[name]}): "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def section_option_names(module: ModuleType) -> list[str]:
    """The option names a section's ``build_config(profile, seed, **options)`` accepts.

    These are its keyword parameters other than ``profile`` and ``seed``; when it takes
    ``**options``, the ``dest`` names of the options its ``add_arguments`` declares are added.
    """
    import argparse
    import inspect

    params = inspect.signature(module.build_config).parameters
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    names = [n for n, p in params.items() if n not in ("profile", "seed") and p.kind in kinds]
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        add_arguments = getattr(module, "add_arguments", None)
        if add_arguments is not None:
            parser = argparse.ArgumentParser(add_help=False)
            add_arguments(parser)
            names += [
                a.dest
                for a in parser._actions
                if a.dest is not argparse.SUPPRESS and a.dest not in names
            ]
    return names


def resolve_device(device: str) -> str:
    """Turn ``"auto"``, ``"cpu"`` or ``"cuda"`` into the device to use.

    ``"auto"`` gives ``"cuda"`` when PyTorch sees a GPU, else ``"cpu"``.

    Raises
    ------
    RnnlabError
        For ``"cuda"`` when no GPU is available.
    ConfigError
        For any other value.
    """
    if device not in DEVICES:
        raise ConfigError(f"unknown device {device!r}; expected one of: {', '.join(DEVICES)}")
    if device == "cpu":
        return "cpu"
    import torch

    available = torch.cuda.is_available()
    if device == "cuda" and not available:
        raise RnnlabError(
            "expected a CUDA GPU for --device cuda, found none (torch.cuda.is_available() is "
            "False); use --device cpu or auto"
        )
    return "cuda" if available else "cpu"


def _check_profile(profile: str) -> None:
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; expected one of: {', '.join(PROFILES)}")


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"expected a non-negative integer seed, found {seed!r}")
    return seed


def ensure_writable_dir(path: str | Path) -> Path:
    """Create ``path`` if needed and check that files can be written in it.

    Raises
    ------
    RnnlabError
        One line naming the folder and why it cannot be written.
    """
    path = Path(path)
    why = None
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
        if blocker == path:
            why = "a file with that name"
        else:
            why = f"a file at {blocker}" if blocker is not None else "a file in its path"
    except PermissionError:
        why = "no permission to create it"
    except OSError as exc:
        why = exc.strerror or str(exc)
    if why is None and not path.is_dir():
        why = "something that is not a folder"
    if why is None:
        try:
            with tempfile.NamedTemporaryFile(dir=path, prefix=".rnnlab-write-test-"):
                pass
        except OSError as exc:
            why = (
                "a folder without write permission"
                if isinstance(exc, PermissionError)
                else (exc.strerror or str(exc))
            )
    if why is not None:
        raise RnnlabError(
            f"cannot write results to {path}: expected a writable folder, found {why}"
        )
    return path


def find_notebook(name: str, notebook_dir: str | Path | None = None) -> Path:
    """The notebook source ``<notebook_dir>/<name>.py`` of a section.

    Raises
    ------
    RnnlabError
        When no notebook folder or no source for this section is found.
    """
    candidates: list[Path] = []
    if notebook_dir is not None:
        candidates.append(Path(notebook_dir))
    elif os.environ.get(ENV_NOTEBOOK_DIR):
        candidates.append(Path(os.environ[ENV_NOTEBOOK_DIR]))
    else:
        checkout = Path(__file__).resolve().parents[3] / "notebooks"  # src/rnnlab/experiments/
        candidates.extend([checkout, Path.cwd() / "notebooks"])
    for folder in candidates:
        source = folder / f"{name}.py"
        if source.is_file():
            return source
    looked = ", ".join(str(c / f"{name}.py") for c in candidates)
    raise RnnlabError(
        f"expected the notebook source of section {name!r} at {looked}, found none; run from a "
        f"source checkout, set {ENV_NOTEBOOK_DIR}, or pass --no-notebook"
    )


# --------------------------------------------------------------------------------------------
# JSON helpers
# --------------------------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    """Convert NumPy scalars and arrays, paths and tuples-likes for json.dumps."""
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if hasattr(value, "tolist"):  # NumPy arrays and scalars, torch tensors
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"expected JSON-serialisable values, found {type(value).__name__}: {value!r}")


def to_jsonable(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples -> lists, NumPy -> Python, paths -> str)."""
    return json.loads(json.dumps(value, default=_json_default))


def write_json(path: str | Path, data: Any) -> None:
    """Write JSON atomically (temp file + os.replace)."""
    path = Path(path)
    text = json.dumps(data, indent=2, default=_json_default)
    _write_text(path, text + "\n")


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _same(a: Any, b: Any) -> bool:
    """Equality of JSON values where NaN equals NaN."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return a == b


def _config_differences(stored: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    keys = sorted(set(stored) | set(expected))
    return [
        k for k in keys if k not in stored or k not in expected or not _same(stored[k], expected[k])
    ]


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------


def _log(progress: bool, message: str) -> None:
    if progress:
        print(f"rnnlab: {message}", file=sys.stderr, flush=True)


def format_seconds(seconds: Any) -> str:
    """Seconds as ``"12.3 s"`` or ``"4 min 05 s"`` (``"—"`` when not a number)."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs:02d} s"


def _check_options(name: str, module: ModuleType, options: dict[str, Any]) -> dict[str, Any]:
    allowed = section_option_names(module)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        listed = ", ".join(allowed) if allowed else "none"
        raise ConfigError(
            f"unknown option(s) {', '.join(unknown)} for section {name!r}; expected: {listed}"
        )
    return dict(options)


def _device_name(device: str) -> str:
    if device == "cuda":
        import torch

        return torch.cuda.get_device_name(0)
    return platform.processor() or platform.machine() or "CPU"


def _settings(
    profile: str,
    seed: int,
    device: str,
    options: dict[str, Any],
    config: dict[str, Any],
    started: _dt.datetime,
    wall_time_s: float,
) -> dict[str, Any]:
    import numpy
    import torch

    return {
        "profile": profile,
        "seed": seed,
        "device": device,
        "device_name": _device_name(device),
        "options": to_jsonable(options),
        "config": config,
        "wall_time_s": round(wall_time_s, 3),
        "started_at": started.isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "rnnlab": __version__,
        "command": _command_line(),
        "notebook": None,
    }


def _command_line() -> str:
    """How this run was started: the command line, or where the Python API was called from."""
    program = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    if "ipykernel" in program:
        return "load_or_run in a notebook"
    if program in ("rnnlab", "__main__.py"):
        return " ".join(["rnnlab", *sys.argv[1:]])
    return f"Python API ({program or 'interactive'})"


def _observations_markdown(result: SectionResult) -> str:
    lines = [f"# {result.title}", ""]
    lines += [f"- {obs}" for obs in result.observations] or ["(no observations)"]
    return "\n".join(lines) + "\n"


def run_section(
    name: str,
    out_root: str | Path = DEFAULT_OUT_ROOT,
    profile: str = "default",
    seed: int = 0,
    device: str = "auto",
    progress: bool = True,
    options: dict[str, Any] | None = None,
    *,
    notebook: bool = True,
    notebook_dir: str | Path | None = None,
) -> SectionResult:
    """Run one section and write its results folder ``<out_root>/<name>``.

    Parameters
    ----------
    name : str
        A registered section (``"q1"``, ``"q2"``, ``"q3"``, ``"exercises"``).
    out_root : path
        Results root; the section writes into ``<out_root>/<name>``.
    profile : {"quick", "default", "full"}
    seed : int
        Base seed of the section.
    device : {"auto", "cpu", "cuda"}
    progress : bool
        Show progress bars and status lines (on stderr).
    options : dict, optional
        The section's own options: keyword arguments of its ``build_config`` (what its
        ``options_from_args`` returns).
    notebook : bool
        Execute ``notebooks/<name>.py`` into ``<out_root>/<name>/<name>.ipynb`` afterwards.
    notebook_dir : path, optional
        Folder of the notebook sources (see the module docstring for the default search).

    Returns
    -------
    SectionResult

    Raises
    ------
    ConfigError
        Unknown section, profile, device or option; checked before any work.
    RnnlabError
        ``cuda`` without a GPU, a folder that cannot be written, a missing notebook source (all
        before any work), or a failing notebook cell.
    """
    module = get_section(name)
    _check_profile(profile)
    seed = _check_seed(seed)
    options = _check_options(name, module, dict(options or {}))
    resolved = resolve_device(device)
    out_root = ensure_writable_dir(out_root)
    out_dir = ensure_writable_dir(out_root / name)
    source = find_notebook(name, notebook_dir) if notebook else None

    config = module.build_config(profile, seed, **options)
    config_dict = to_jsonable(config_to_dict(config))

    # A run in progress is not a finished run: drop the marker and the stale notebook first.
    for stale in (out_dir / SECTION_FILE, out_dir / f"{name}.ipynb"):
        stale.unlink(missing_ok=True)

    _log(progress, f"{name}: running ({profile} profile, seed {seed}, device {resolved})")
    ctx = RunContext(
        out_dir=out_dir, profile=profile, seed=seed, device=resolved, progress=progress
    )
    started = _dt.datetime.now().astimezone()
    start = time.perf_counter()
    result = module.run(config, ctx)
    wall_time_s = time.perf_counter() - start
    if not isinstance(result, SectionResult):
        raise TypeError(
            f"section {name!r}: run() must return a SectionResult, returned {type(result).__name__}"
        )
    if not result.config:
        result.config = config_dict
    for figure in result.figures:
        if not (out_dir / figure.path).is_file():
            _log(True, f"{name}: warning: listed figure {figure.path} was not written")

    data = to_jsonable(result.to_dict())
    data["settings"] = _settings(
        profile, seed, resolved, options, config_dict, started, wall_time_s
    )
    write_json(out_dir / METRICS_FILE, result.metrics)
    _write_text(out_dir / OBSERVATIONS_FILE, _observations_markdown(result))
    write_json(out_dir / SECTION_FILE, data)
    _log(progress, f"{name}: results written to {out_dir} in {format_seconds(wall_time_s)}")

    if source is not None:
        from rnnlab.report.notebooks import execute_notebook

        target = out_dir / f"{name}.ipynb"
        _log(progress, f"{name}: executing notebook {source} -> {target}")
        env = {
            ENV_OUT: str(out_root.resolve()),
            ENV_PROFILE: profile,
            ENV_SEED: str(seed),
            ENV_DEVICE: resolved,
            ENV_OPTIONS: json.dumps(options, default=_json_default),
            ENV_PROGRESS: "0",
        }
        seconds = execute_notebook(source, target, cwd=source.resolve().parent.parent, env=env)
        data["settings"]["notebook"] = {
            "file": target.name,
            "source": str(source),
            "wall_time_s": round(seconds, 3),
        }
        write_json(out_dir / SECTION_FILE, data)
        _log(progress, f"{name}: notebook executed in {format_seconds(seconds)}")
    return result


def load_section_data(out_dir: str | Path) -> dict[str, Any]:
    """The raw contents of ``<out_dir>/section.json`` (the result plus its ``settings``).

    Raises
    ------
    DataError
        When the file is missing or is not valid JSON.
    """
    path = Path(out_dir) / SECTION_FILE
    if not path.is_file():
        raise DataError(
            f"expected a finished run in {Path(out_dir)} ({SECTION_FILE}), found none; "
            f"run `rnnlab run {Path(out_dir).name}` first"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"expected valid JSON in {path}, found an error: {exc}") from None
    if not isinstance(data, dict) or "name" not in data or "metrics" not in data:
        raise DataError(f"expected a section result in {path}, found other JSON")
    return data


def load_section(out_dir: str | Path) -> SectionResult:
    """Load the :class:`SectionResult` saved in a section's results folder."""
    return SectionResult.from_dict(load_section_data(out_dir))


def section_dir(name: str, out_root: str | Path | None = None) -> Path:
    """``<out_root>/<name>`` where out_root defaults to ``$RNNLAB_OUT`` or ``results``."""
    root = out_root if out_root is not None else os.environ.get(ENV_OUT) or DEFAULT_OUT_ROOT
    return Path(root) / name


def load_or_run(
    name: str,
    out_root: str | Path | None = None,
    profile: str | None = None,
    seed: int | None = None,
    device: str | None = None,
    options: dict[str, Any] | None = None,
) -> SectionResult:
    """Reuse the saved results of a section when they match its config, else run it.

    Each argument left as None takes, in order: its environment variable (``RNNLAB_OUT``,
    ``RNNLAB_PROFILE``, ``RNNLAB_SEED``, ``RNNLAB_DEVICE``, ``RNNLAB_OPTIONS`` as JSON, set by
    the runner when it executes a notebook), then the value the saved run used (so a notebook
    opened by hand shows the last ``rnnlab run``), then the default (``results``, ``default``,
    0, ``auto``, no options). The saved ``section.json`` is reused when its config equals
    ``build_config(profile, seed, **options)``; otherwise the section runs again (without
    executing its notebook, which is what calls this function).
    """
    module = get_section(name)
    out_dir = section_dir(name, out_root)
    try:
        stored = load_section_data(out_dir)
    except DataError:
        stored = None
    saved = (stored or {}).get("settings", {}) if stored and stored.get("name") == name else {}

    if profile is None:
        profile = os.environ.get(ENV_PROFILE) or saved.get("profile") or "default"
    if seed is None:
        env_seed = os.environ.get(ENV_SEED)
        if env_seed:
            try:
                seed = int(env_seed)
            except ValueError:
                raise ConfigError(f"expected an integer {ENV_SEED}, found {env_seed!r}") from None
        else:
            seed = saved.get("seed", 0)
    if device is None:
        device = os.environ.get(ENV_DEVICE) or "auto"
    if options is None:
        env_options = os.environ.get(ENV_OPTIONS)
        if env_options:
            try:
                options = json.loads(env_options)
            except json.JSONDecodeError:
                raise ConfigError(
                    f"expected JSON in {ENV_OPTIONS}, found {env_options!r}"
                ) from None
        else:
            options = dict(saved.get("options") or {})
    _check_profile(profile)
    seed = _check_seed(seed)
    options = _check_options(name, module, options)
    progress = os.environ.get(ENV_PROGRESS, "1") != "0"

    expected = to_jsonable(config_to_dict(module.build_config(profile, seed, **options)))
    if stored is not None and saved:
        stored_config = saved.get("config", stored.get("config"))
        differences = _config_differences(stored_config or {}, expected)
        if not differences:
            return SectionResult.from_dict(stored)
        _log(
            True,
            f"{name}: saved results in {out_dir} have a different config "
            f"({', '.join(differences)}); running again",
        )
    else:
        _log(True, f"{name}: no saved results in {out_dir}; running")
    root = out_dir.parent
    return run_section(name, root, profile, seed, device, progress, options, notebook=False)


@dataclasses.dataclass(frozen=True)
class RunAllResult:
    """What :func:`run_all` produced."""

    results: dict[str, SectionResult]
    report: Path
    wall_time_s: float


def run_all(
    out_root: str | Path = DEFAULT_OUT_ROOT,
    profile: str = "default",
    seed: int = 0,
    device: str = "auto",
    progress: bool = True,
    options: dict[str, Any] | None = None,
    *,
    notebook: bool = True,
    notebook_dir: str | Path | None = None,
) -> RunAllResult:
    """Run every registered section in order, then write ``<out_root>/index.html``.

    ``options`` may hold the options of all sections; each section receives those it declares.
    Everything that can be checked (device, folders, notebook sources, options) is checked
    before the first section starts.
    """
    from rnnlab.report import build_report

    options = dict(options or {})
    _check_profile(profile)
    seed = _check_seed(seed)
    resolved = resolve_device(device)
    out_root = Path(out_root)
    ensure_writable_dir(out_root)
    plan: list[tuple[str, dict[str, Any]]] = []
    declared: set[str] = set()
    for name in section_names():
        module = get_section(name)
        names = section_option_names(module)
        declared.update(names)
        plan.append((name, {k: v for k, v in options.items() if k in names}))
        ensure_writable_dir(out_root / name)
        if notebook:
            find_notebook(name, notebook_dir)
    unknown = sorted(set(options) - declared)
    if unknown:
        raise ConfigError(f"unknown option(s) {', '.join(unknown)}; no section declares them")

    start = time.perf_counter()
    results: dict[str, SectionResult] = {}
    for name, section_options in plan:
        results[name] = run_section(
            name,
            out_root,
            profile,
            seed,
            resolved,
            progress,
            section_options,
            notebook=notebook,
            notebook_dir=notebook_dir,
        )
    report = build_report(out_root)
    return RunAllResult(results=results, report=report, wall_time_s=time.perf_counter() - start)
