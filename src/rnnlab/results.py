"""The results folder: its layout, the section file format, one atomic writer and strict JSON.

This module sits below everything that reads or writes results (the runner, the report, the
notebooks' display helpers, the sections), and imports nothing of rnnlab but :mod:`rnnlab.errors`.

Layout of a results root (``results/`` by default)::

    <root>/index.html                 the HTML report (rnnlab.report)
    <root>/<section>/metrics.json     every number the section measured (the measurements)
    <root>/<section>/observations.md  the sentences computed from metrics.json
    <root>/<section>/section.json     title, config, observations, figures, tables, text blocks,
                                      metrics and the run "settings"; written last, marks a
                                      finished run
    <root>/<section>/figures/*.png    the figures, drawn from metrics.json and saved artifacts
    <root>/<section>/<section>.ipynb  the executed notebook

JSON encoding
-------------
Every JSON file rnnlab writes is strict JSON (RFC 8259), which a browser's ``JSON.parse``,
``node`` and ``jq`` accept. Python's ``json`` would write ``NaN``, ``Infinity`` and
``-Infinity`` for non-finite floats, which strict parsers refuse. rnnlab writes them as the
strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` (JavaScript's own names: ``Number("NaN")``
gives back ``NaN``), and :func:`read_json` / :func:`loads` turn those three strings back into
floats. A genuine text value equal to one of these three strings would also be read back as a
float; rnnlab's results hold no such text.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnnlab.errors import DataError

DEFAULT_OUT_ROOT = "results"
SECTION_FILE = "section.json"
METRICS_FILE = "metrics.json"
OBSERVATIONS_FILE = "observations.md"
FIGURES_DIR = "figures"
REPORT_FILE = "index.html"

NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


# --------------------------------------------------------------------------------------------
# What a section shows
# --------------------------------------------------------------------------------------------


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
class Topic:
    """One topic of a section, as a lab report has them: its sentences, figures and tables.

    Attributes
    ----------
    key : str
        A short id, unique in the section (the report's anchor: ``#<section>-<key>``).
    title : str
    observations : list of str
        The topic's sentences (each also in :attr:`Presentation.observations`).
    figures : list of str
        Paths of the topic's figures (as in :attr:`Figure.path`).
    tables : list of str
        Titles of the topic's tables (as in :attr:`Table.title`).
    text_blocks : list of str
        Keys of the topic's text blocks.
    """

    key: str
    title: str
    observations: list[str] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    text_blocks: list[str] = field(default_factory=list)


@dataclass
class Finding:
    """A key finding for the report's summary: a sentence and the topic that details it."""

    text: str
    topic: str


@dataclass
class Presentation:
    """What a reader sees of a section, computed from its measurements alone.

    Attributes
    ----------
    observations : list of str
        The sentences, each a function of numbers in metrics.json.
    figures : list of Figure
        The figures the presentation drew into ``<section>/figures/``.
    tables : list of Table
    text_blocks : dict
        Titled blocks of plain text (sampled text, printed output).
    topics : list of Topic
        The section organised by topic (the report's layout); empty: one topic with everything.
    findings : list of Finding
        The 3-6 key findings for the report's summary, chosen by rules from the measurements.
    limitations : list of str
        What limits the results (an untrained CNN, a skipped dataset, fallback data), each a
        short phrase; the report's status is "done" only when this is empty.
    """

    observations: list[str] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    text_blocks: dict[str, str] = field(default_factory=dict)
    topics: list[Topic] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    limitations: list[str] = field(default_factory=list)


@dataclass
class SectionResult:
    """Everything a section measured and shows (the contents of ``section.json``)."""

    name: str
    title: str
    config: dict[str, Any]
    metrics: dict[str, Any]
    observations: list[str]
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    text_blocks: dict[str, str] = field(default_factory=dict)
    topics: list[Topic] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    limitations: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SectionResult:
        """Rebuild a result from the JSON of ``section.json``.

        Raises
        ------
        DataError
            When a field is missing or of the wrong kind.
        """
        try:
            return cls(
                name=str(data["name"]),
                title=str(data["title"]),
                config=dict(data.get("config") or {}),
                metrics=dict(data["metrics"]),
                observations=[str(o) for o in data.get("observations") or []],
                figures=[Figure(**f) for f in data.get("figures") or []],
                tables=[Table(**t) for t in data.get("tables") or []],
                text_blocks={str(k): str(v) for k, v in (data.get("text_blocks") or {}).items()},
                topics=[Topic(**t) for t in data.get("topics") or []],
                findings=[Finding(**f) for f in data.get("findings") or []],
                limitations=[str(x) for x in data.get("limitations") or []],
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DataError(
                f"expected a section result (name, title, metrics, figures, tables), found "
                f"malformed data: {type(exc).__name__}: {exc}"
            ) from None


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that a reader never sees a half-written file.

    The bytes go to a temporary file in the same folder, are flushed to disk, and the file is
    renamed over ``path`` (``os.replace``, atomic on POSIX and Windows). A crash leaves either
    the old file or the new one, plus at most a stray ``.<name>.tmp-<pid>``. Missing parent
    folders are created.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """:func:`atomic_write_bytes` of UTF-8 text."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def _default(value: Any) -> Any:
    """Convert NumPy scalars and arrays, paths, dataclasses and sets for JSON."""
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if hasattr(value, "tolist"):  # NumPy arrays and scalars, torch tensors
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"expected JSON-serialisable values, found {type(value).__name__}: {value!r}")


def _encode_nonfinite(value: Any) -> Any:
    """``value`` with every non-finite float replaced by its string name (see module doc)."""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, dict):
        return {str(k): _encode_nonfinite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode_nonfinite(v) for v in value]
    return value


def _decode_nonfinite(value: Any) -> Any:
    if isinstance(value, str):
        return NONFINITE.get(value, value)
    if isinstance(value, dict):
        return {k: _decode_nonfinite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode_nonfinite(v) for v in value]
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"expected strict JSON, found the non-standard constant {name}")


def dumps(value: Any, indent: int | None = 2) -> str:
    """Strict JSON text of ``value`` (non-finite floats as ``"NaN"``/``"Infinity"`` strings)."""
    plain = json.loads(json.dumps(value, default=_default))  # NumPy etc. -> Python first
    return json.dumps(_encode_nonfinite(plain), indent=indent, allow_nan=False)


def loads(text: str) -> Any:
    """Parse strict JSON written by :func:`dumps`, turning the non-finite names back to floats.

    Raises
    ------
    ValueError
        On invalid JSON, including the bare ``NaN``/``Infinity`` that strict parsers refuse.
    """
    return _decode_nonfinite(json.loads(text, parse_constant=_refuse_constant))


def to_jsonable(value: Any) -> Any:
    """``value`` as it reads back from rnnlab's JSON (tuples -> lists, NumPy -> Python)."""
    return loads(dumps(value, indent=None))


def write_json(path: str | Path, data: Any) -> Path:
    """Write ``data`` as strict JSON, atomically."""
    return atomic_write_text(path, dumps(data) + "\n")


def read_json(path: str | Path, what: str = "JSON") -> Any:
    """Read a JSON file written by :func:`write_json`.

    Raises
    ------
    DataError
        One line naming the file when it is missing, unreadable or not valid JSON.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"expected {what} at {path}, found no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"expected readable UTF-8 JSON ({what}) at {path}, found an error: {exc}") from None
    try:
        return loads(text)
    except ValueError as exc:
        raise DataError(f"expected valid JSON ({what}) in {path}, found an error: {exc}") from None


# --------------------------------------------------------------------------------------------
# Section folders
# --------------------------------------------------------------------------------------------


def section_dir(name: str, out_root: str | Path | None = None) -> Path:
    """``<out_root>/<name>``; out_root defaults to ``$RNNLAB_OUT`` or ``results``."""
    root = out_root if out_root is not None else os.environ.get("RNNLAB_OUT") or DEFAULT_OUT_ROOT
    return Path(root) / name


def load_section_data(out_dir: str | Path) -> dict[str, Any]:
    """The raw contents of ``<out_dir>/section.json`` (the result plus its ``settings``).

    Raises
    ------
    DataError
        When the file is missing, is not valid JSON, or is not a section result.
    """
    out_dir = Path(out_dir)
    path = out_dir / SECTION_FILE
    if not path.is_file():
        raise DataError(
            f"expected a finished run in {out_dir} ({SECTION_FILE}), found none; "
            f"run `rnnlab run {out_dir.name}` first"
        )
    data = read_json(path, "a section result")
    if not isinstance(data, dict) or "name" not in data or not isinstance(data.get("metrics"), dict):
        raise DataError(f"expected a section result in {path}, found other JSON")
    settings = data.get("settings")
    if settings is not None and not isinstance(settings, dict):
        raise DataError(
            f"expected an object for 'settings' in {path}, found {type(settings).__name__}"
        )
    return data


def load_section(out_dir: str | Path) -> SectionResult:
    """Load the :class:`SectionResult` saved in a section's results folder."""
    return SectionResult.from_dict(load_section_data(out_dir))


def load_metrics(out_dir: str | Path) -> dict[str, Any]:
    """The measurements saved in ``<out_dir>/metrics.json``.

    Raises
    ------
    DataError
        When the file is missing, invalid, or not a JSON object.
    """
    path = Path(out_dir) / METRICS_FILE
    metrics = read_json(path, "a section's measurements")
    if not isinstance(metrics, dict):
        raise DataError(f"expected a JSON object in {path}, found {type(metrics).__name__}")
    return metrics


def ensure_writable_dir(path: str | Path) -> Path:
    """Create ``path`` if needed and check that files can be written in it.

    Raises
    ------
    DataError
        One line naming the folder and why it cannot be written (an empty name included: it
        would silently mean the current folder).
    """
    if not str(path).strip():
        raise DataError("expected a results folder name, found an empty string")
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
        raise DataError(
            f"cannot write results to {path}: expected a writable folder, found {why}"
        )
    return path


UNITS_CONFIG = "config.json"


def check_units(folder: str | Path, config: dict[str, Any], resume: bool, units: str, section: str) -> Path:
    """With ``resume``, check that a folder of finished units belongs to ``config``; no side effects.

    The folder records the config its units belong to in ``config.json``. Without ``resume``
    nothing is checked (the folder will be started afresh).

    Raises
    ------
    ConfigError
        On ``resume`` when the folder belongs to another config.
    DataError
        On ``resume`` when the config file is unreadable, or unit files lie there without one.
    """
    from rnnlab.errors import ConfigError

    folder = Path(folder)
    if not resume:
        return folder
    wanted = to_jsonable(config)
    record = folder / UNITS_CONFIG
    if record.exists():
        saved = read_json(record, f"the config of the finished {section} {units}")
        if not isinstance(saved, dict):
            raise DataError(f"expected a config object in {record}, found {type(saved).__name__}")
        different = sorted(k for k in set(saved) | set(wanted) if saved.get(k) != wanted.get(k))
        if different:
            shown = ", ".join(f"{k}: {wanted.get(k)!r}" for k in different[:3])
            found = ", ".join(f"{k}: {saved.get(k)!r}" for k in different[:3])
            raise ConfigError(f"expected the {units} in {folder} to come from this config to resume "
                              f"({shown}), found another ({found}) in {record}; run without --resume "
                              "to start over")
    elif folder.is_dir() and any(p.suffix == ".json" for p in folder.iterdir()):
        raise DataError(f"expected {record} to resume the {units} in {folder}, found no such file")
    return folder


def prepare_units(folder: str | Path, config: dict[str, Any], resume: bool, units: str, section: str) -> Path:
    """A folder of a section's finished units of work (Q1's runs, the exercises' parts).

    With ``resume`` the folder is checked (:func:`check_units`) and kept. Without it an
    existing folder is removed (said on stderr). Either way the folder then records ``config``
    (the section's config without ``resume`` itself) in ``config.json``.

    Raises
    ------
    ConfigError, DataError
        As :func:`check_units`.
    """
    folder = check_units(folder, config, resume, units, section)
    if folder.exists() and not resume:
        import shutil
        import sys

        shutil.rmtree(folder)
        print(f"{section}: cleared the previous finished {units} in {folder} (use --resume to reuse them)",
              file=sys.stderr)
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / UNITS_CONFIG, to_jsonable(config))
    return folder


def observations_markdown(title: str, observations: list[str]) -> str:
    """The text of ``observations.md``: the title, then one bullet per sentence."""
    lines = [f"# {title}", ""]
    lines += [f"- {obs}" for obs in observations] or ["(no observations)"]
    return "\n".join(lines) + "\n"


def format_seconds(seconds: Any) -> str:
    """Seconds as ``"12.3 s"`` or ``"4 min 05 s"`` (``"—"`` when not a finite number)."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        return "—"
    if not math.isfinite(seconds):
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs:02d} s"
