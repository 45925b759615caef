"""Run a section of the lab into its results folder, rebuild its presentation, or run everything.

A run of section ``name`` (see :mod:`rnnlab.experiments.base` for the section contract) is
*measure once, then tell*::

    config   = section.build_config(profile, seed, options)
    metrics  = section.measure(config, ctx)          # training and measuring, nothing else
    write  <out_root>/<name>/metrics.json            # strict JSON (rnnlab.results)
    metrics  = read it back
    shown    = section.present(metrics, config, out_dir)   # sentences, figures, tables
    write  observations.md, figures/*.png, section.json (last: marks a finished run)

:func:`rebuild_section` runs the last two steps again from a results folder alone (no
retraining); ``rnnlab report --rebuild`` calls it. After a run, the notebook source
``notebooks/<name>.py`` is executed with the environment variables ``RNNLAB_OUT``,
``RNNLAB_PROFILE``, ``RNNLAB_SEED``, ``RNNLAB_DEVICE`` and ``RNNLAB_OPTIONS`` (JSON) set, so that
its ``load_or_run(name)`` finds the results just written and reuses them.

Where notebook sources are found: the ``notebook_dir`` argument, else the
``RNNLAB_NOTEBOOK_DIR`` environment variable, else ``rnnlab/notebooks/`` inside the installed
package (they ship with it, so ``pip install`` alone is enough to run every section). The
notebook runs in the section's results folder.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import importlib
import json
import os
import platform
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from rnnlab import __version__
from rnnlab.errors import ConfigError, DataError, RnnlabError
from rnnlab.experiments import registry
from rnnlab.experiments.base import (
    RunContext,
    check_profile,
    check_seed,
    config_from_dict,
    config_to_dict,
    declared_options,
)
from rnnlab.results import (  # noqa: F401 (re-exported for notebooks and older callers)
    DEFAULT_OUT_ROOT,
    FIGURES_DIR,
    METRICS_FILE,
    OBSERVATIONS_FILE,
    SECTION_FILE,
    Presentation,
    SectionResult,
    atomic_write_text,
    ensure_writable_dir,
    format_seconds,
    load_metrics,
    load_section,
    load_section_data,
    observations_markdown,
    read_json,
    section_dir,
    to_jsonable,
    write_json,
)

DEVICES = ("auto", "cpu", "cuda")

ENV_OUT = "RNNLAB_OUT"
ENV_PROFILE = "RNNLAB_PROFILE"
ENV_SEED = "RNNLAB_SEED"
ENV_DEVICE = "RNNLAB_DEVICE"
ENV_OPTIONS = "RNNLAB_OPTIONS"
ENV_PROGRESS = "RNNLAB_PROGRESS"
ENV_NOTEBOOK_DIR = "RNNLAB_NOTEBOOK_DIR"


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
        candidates.append(Path(__file__).resolve().parents[1] / "notebooks")  # in the package
    for folder in candidates:
        source = folder / f"{name}.py"
        if source.is_file():
            return source
    looked = ", ".join(str(c / f"{name}.py") for c in candidates)
    raise RnnlabError(
        f"expected the notebook source of section {name!r} at {looked}, found none; set "
        f"{ENV_NOTEBOOK_DIR} to a folder of notebook sources, or pass --no-notebook"
    )


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# Options
# --------------------------------------------------------------------------------------------


def section_option_names(module: ModuleType) -> list[str]:
    """The option names (Config fields declared with ``option``) a section accepts."""
    return list(declared_options(module.Config))


def build_config(module: ModuleType, profile: str, seed: int, options: dict[str, Any]) -> Any:
    """The section's Config for ``profile``, ``seed`` and the user's ``options`` (all checked)."""
    check_profile(profile)
    check_seed(seed)
    allowed = section_option_names(module)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        listed = ", ".join(allowed) if allowed else "none"
        raise ConfigError(
            f"expected options of section {module.NAME!r} ({listed}), found "
            f"{', '.join(unknown)}"
        )
    return module.build_config(profile, seed, options)


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------


def _log(progress: bool, message: str) -> None:
    if progress:
        print(f"rnnlab: {message}", file=sys.stderr, flush=True)


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


def _write_presentation(out_dir: Path, data: dict[str, Any], shown: Presentation) -> None:
    """Write ``observations.md`` and ``section.json`` (``data`` updated with ``shown``)."""
    data.update(
        observations=list(shown.observations),
        figures=[dataclasses.asdict(f) for f in shown.figures],
        tables=[dataclasses.asdict(t) for t in shown.tables],
        text_blocks=dict(shown.text_blocks),
        topics=[dataclasses.asdict(t) for t in shown.topics],
        findings=[dataclasses.asdict(f) for f in shown.findings],
        limitations=list(shown.limitations),
    )
    for figure in shown.figures:
        if not (out_dir / figure.path).is_file():
            _log(True, f"{data['name']}: warning: listed figure {figure.path} was not written")
    atomic_write_text(out_dir / OBSERVATIONS_FILE, observations_markdown(data["title"], data["observations"]))
    write_json(out_dir / SECTION_FILE, data)


def _clear_outputs(out_dir: Path, name: str, progress: bool) -> None:
    """Remove the previous run's outputs, so that a section never mixes two runs' results.

    The finished-run marker goes first (a run in progress is not a finished run), then the
    measurements, sentences, figures and notebook. Saved artifacts that a section resumes from
    (checkpoints) stay.
    """
    import shutil

    outputs = [SECTION_FILE, f"{name}.ipynb", METRICS_FILE, OBSERVATIONS_FILE, FIGURES_DIR]
    present = [o for o in outputs if (out_dir / o).exists()]
    for entry in present:
        path = out_dir / entry
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    if present:
        _log(progress, f"{name}: cleared the previous run's outputs in {out_dir} ({', '.join(present)})")


def _measure_and_present(
    module: ModuleType, config: Any, ctx: RunContext
) -> tuple[dict[str, Any], Presentation]:
    """Run the section: measure, save metrics.json, read it back, present what was read."""
    metrics = module.measure(config, ctx)
    if not isinstance(metrics, dict):
        raise TypeError(f"section {module.NAME!r}: measure() must return a dict of measurements")
    write_json(ctx.out_dir / METRICS_FILE, metrics)
    metrics = load_metrics(ctx.out_dir)
    return metrics, module.present(metrics, config, ctx.out_dir)


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
        The section's own options (Config fields declared with ``option``).
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
        Unknown section, profile, device or option, or a bad option value; checked before any
        work.
    RnnlabError
        ``cuda`` without a GPU, a folder that cannot be written, a missing notebook source (all
        before any work), or a failing notebook cell.
    """
    module = get_section(name)
    options = dict(options or {})
    config = build_config(module, profile, seed, options)
    resolved = resolve_device(device)
    out_root = ensure_writable_dir(out_root)
    out_dir = ensure_writable_dir(out_root / name)
    source = find_notebook(name, notebook_dir) if notebook else None
    config_dict = to_jsonable(config_to_dict(config))

    check = getattr(module, "check", None)
    if check is not None:  # e.g. --resume: saved units fit this config; before anything is cleared
        check(config, out_dir)
    _clear_outputs(out_dir, name, progress)

    _log(progress, f"{name}: running ({profile} profile, seed {seed}, device {resolved})")
    ctx = RunContext(out_dir=out_dir, profile=profile, seed=seed, device=resolved, progress=progress)
    started = _dt.datetime.now().astimezone()
    start = time.perf_counter()
    metrics, shown = _measure_and_present(module, config, ctx)
    wall_time_s = time.perf_counter() - start

    data = to_jsonable(SectionResult(name, module.TITLE, config_dict, metrics, []).to_dict())
    data["settings"] = _settings(profile, seed, resolved, options, config_dict, started, wall_time_s)
    _write_presentation(out_dir, data, shown)
    _log(progress, f"{name}: results written to {out_dir} in {format_seconds(wall_time_s)}")

    if source is not None:
        _execute_notebook(name, source, out_root, out_dir, data, options, progress)
    return SectionResult.from_dict(data)


def _execute_notebook(
    name: str,
    source: Path,
    out_root: Path,
    out_dir: Path,
    data: dict[str, Any],
    options: dict[str, Any],
    progress: bool,
) -> None:
    from rnnlab.report.notebooks import execute_notebook

    settings = data["settings"]
    target = out_dir / f"{name}.ipynb"
    _log(progress, f"{name}: executing notebook {source} -> {target}")
    env = {
        ENV_OUT: str(out_root.resolve()),
        ENV_PROFILE: settings["profile"],
        ENV_SEED: str(settings["seed"]),
        ENV_DEVICE: settings["device"],
        ENV_OPTIONS: json.dumps(to_jsonable(options)),
        ENV_PROGRESS: "0",
    }
    seconds = execute_notebook(source, target, cwd=out_dir, env=env)
    settings["notebook"] = {"file": target.name, "source": str(source), "wall_time_s": round(seconds, 3)}
    write_json(out_dir / SECTION_FILE, data)
    _log(progress, f"{name}: notebook executed in {format_seconds(seconds)}")


def rebuild_section(out_dir: str | Path) -> SectionResult:
    """Present a finished run again from its results folder alone, without retraining.

    Reads ``metrics.json`` and the config in ``section.json``, calls the section's
    ``present`` (which redraws the figures from the saved measurements and artifacts), and
    rewrites ``observations.md`` and ``section.json``.

    Raises
    ------
    DataError
        When the folder holds no finished run, or its files are malformed.
    """
    out_dir = Path(out_dir)
    data = load_section_data(out_dir)
    name = str(data["name"])
    module = get_section(name)
    settings = data.get("settings") or {}
    try:
        config = config_from_dict(module.Config, settings.get("config", data.get("config")) or {})
    except ConfigError as exc:
        raise DataError(f"expected the config of {name} in {out_dir / SECTION_FILE}: {exc}") from None
    metrics = load_metrics(out_dir)
    shown = module.present(metrics, config, out_dir)
    data["metrics"] = metrics
    _write_presentation(out_dir, data, shown)
    return SectionResult.from_dict(data)


def _options_from_env() -> dict[str, Any] | None:
    env_options = os.environ.get(ENV_OPTIONS)
    if not env_options:
        return None
    try:
        options = json.loads(env_options)
    except json.JSONDecodeError:
        raise ConfigError(f"expected JSON in {ENV_OPTIONS}, found {env_options!r}") from None
    if not isinstance(options, dict):
        raise ConfigError(f"expected a JSON object in {ENV_OPTIONS}, found {env_options!r}")
    return options


def _seed_from_env(saved: dict[str, Any]) -> int:
    env_seed = os.environ.get(ENV_SEED)
    if not env_seed:
        return saved.get("seed", 0)
    try:
        return int(env_seed)
    except ValueError:
        raise ConfigError(f"expected an integer {ENV_SEED}, found {env_seed!r}") from None


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
    0, ``auto``, no options). The saved ``section.json`` is reused when its config equals the
    config these settings build; otherwise the section runs again (without executing its
    notebook, which is what calls this function).
    """
    module = get_section(name)
    out_dir = section_dir(name, out_root)
    try:
        stored = load_section_data(out_dir)
    except DataError:
        stored = None
    saved = (stored or {}).get("settings", {}) if stored and stored.get("name") == name else {}

    profile = profile or os.environ.get(ENV_PROFILE) or saved.get("profile") or "default"
    seed = _seed_from_env(saved) if seed is None else seed
    device = device or os.environ.get(ENV_DEVICE) or "auto"
    if options is None:
        options = _options_from_env()
    if options is None:
        options = dict(saved.get("options") or {})
    progress = os.environ.get(ENV_PROGRESS, "1") != "0"

    expected = to_jsonable(config_to_dict(build_config(module, profile, seed, options)))
    if stored is not None and saved:
        stored_config = saved.get("config", stored.get("config")) or {}
        differences = sorted(
            k for k in set(stored_config) | set(expected) if stored_config.get(k) != expected.get(k)
        )
        if not differences:
            return SectionResult.from_dict(stored)
        _log(True, f"{name}: saved results in {out_dir} have a different config "
                   f"({', '.join(differences)}); running again")
    else:
        _log(True, f"{name}: no saved results in {out_dir}; running")
    return run_section(name, out_dir.parent, profile, seed, device, progress, options, notebook=False)


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
    Everything that can be checked (every section's config, device, folders, notebook sources)
    is checked before the first section starts.
    """
    from rnnlab.report import build_report

    options = dict(options or {})
    check_profile(profile)
    check_seed(seed)
    resolved = resolve_device(device)
    out_root = Path(out_root)
    ensure_writable_dir(out_root)
    plan: list[tuple[str, dict[str, Any]]] = []
    declared: set[str] = set()
    for name in section_names():
        module = get_section(name)
        names = section_option_names(module)
        declared.update(names)
        section_options = {k: v for k, v in options.items() if k in names}
        build_config(module, profile, seed, section_options)  # refuse bad values up front
        plan.append((name, section_options))
        ensure_writable_dir(out_root / name)
        if notebook:
            find_notebook(name, notebook_dir)
    unknown = sorted(set(options) - declared)
    if unknown:
        raise ConfigError(f"expected options that some section declares, found {', '.join(unknown)}")

    start = time.perf_counter()
    results: dict[str, SectionResult] = {}
    for name, section_options in plan:
        results[name] = run_section(
            name, out_root, profile, seed, resolved, progress, section_options,
            notebook=notebook, notebook_dir=notebook_dir,
        )
    report = build_report(out_root)
    return RunAllResult(results=results, report=report, wall_time_s=time.perf_counter() - start)
