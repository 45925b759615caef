"""The HTML report of a results folder, led by its findings.

:func:`build_report` reads ``<out_root>/<name>/section.json`` for every registered section (and
any other section folder found there) and writes ``<out_root>/index.html`` from the Jinja2
template ``templates/report.html.j2``:

1. a summary at the top: each section's honest status (done; done with named limitations; failed
   or interrupted; not run; unreadable) and its key findings, each linked to its topic;
2. each section organised by topic, as in a lab report: the topic's sentences, then its figures
   with captions, then its tables, then text blocks folded away; and a collapsed block with the
   run settings, the configuration and every measured number.

The page stays light: figures are the PNG files of the section folders, linked beside the page
(``<name>/figures/*.png``), not embedded. It needs no network (no CDN, no script). Everything
from the results is HTML-escaped by the template engine.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnnlab import __version__
from rnnlab.results import (
    METRICS_FILE,
    REPORT_FILE,
    SECTION_FILE,
    atomic_write_text,
    ensure_writable_dir,
    format_seconds,
    load_section_data,
)

MAX_INLINE_LIST = 8  # metrics lists longer than this are summarised in the report
TEMPLATES = Path(__file__).parent / "templates"


@dataclass
class Status:
    """A section's status: a css class, a label, and what limits or explains it."""

    css: str
    label: str
    detail: str = ""
    explain: str = ""


@dataclass
class SectionView:
    """What the template shows of one section."""

    name: str
    title: str
    folder: Path
    status: Status
    data: dict[str, Any] | None = None
    error: str | None = None
    topics: list[dict[str, Any]] = field(default_factory=list)
    findings: list[dict[str, str]] = field(default_factory=list)
    run_line: str = ""
    notebook: str | None = None
    settings: list[tuple[str, str]] = field(default_factory=list)
    config: list[tuple[str, str]] = field(default_factory=list)
    metrics: list[tuple[str, str]] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------------


def _fmt(value: Any) -> str:
    """A table cell or setting as short text (floats to 4 significant digits)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            return f"{value:.3e}"
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={_fmt(v)}" for k, v in value.items())
    return str(value)


def _is_num(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _flatten_metrics(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Leaf values of nested metrics as (dotted key, value); long lists summarised."""
    if isinstance(value, dict):
        out: list[tuple[str, Any]] = []
        for key, sub in value.items():
            out += _flatten_metrics(sub, f"{prefix}.{key}" if prefix else str(key))
        return out
    if isinstance(value, list):
        if all(not isinstance(v, (list, dict)) for v in value) and len(value) <= MAX_INLINE_LIST:
            return [(prefix, value)]
        if all(_is_num(v) for v in value) and value:
            return [(prefix, f"{len(value)} values, first {_fmt(value[0])}, last {_fmt(value[-1])}")]
        if all(isinstance(v, dict) for v in value) and len(value) <= MAX_INLINE_LIST:
            out = []
            for i, sub in enumerate(value):
                out += _flatten_metrics(sub, f"{prefix}[{i}]")
            return out
        return [(prefix, f"list of {len(value)} items (see metrics.json)")]
    return [(prefix, value)]


def _settings_pairs(settings: dict[str, Any]) -> list[tuple[str, Any]]:
    notebook = settings.get("notebook")
    nb = (f"{notebook.get('file')} (executed in {format_seconds(notebook.get('wall_time_s'))})"
          if isinstance(notebook, dict) else "not executed")
    return [
        ("Profile", settings.get("profile")),
        ("Seed", settings.get("seed")),
        ("Device", f"{settings.get('device', '—')} ({settings.get('device_name', '—')})"),
        ("Wall time", format_seconds(settings.get("wall_time_s"))),
        ("Started", settings.get("started_at")),
        ("Section options", settings.get("options") or "none"),
        ("Python", settings.get("python")),
        ("NumPy", settings.get("numpy")),
        ("PyTorch", settings.get("torch")),
        ("Torch threads / CPUs", f"{settings.get('torch_threads', '—')} / {settings.get('cpu_count', '—')}"),
        ("Platform", settings.get("platform")),
        ("rnnlab", settings.get("rnnlab")),
        ("Command", settings.get("command")),
        ("Notebook", nb),
    ]


def _wall_time(data: dict[str, Any] | None) -> float:
    """The run's wall time in seconds, or 0 when the saved value is not a finite number."""
    settings = (data or {}).get("settings")
    value = settings.get("wall_time_s") if isinstance(settings, dict) else None
    return float(value) if _is_num(value) and math.isfinite(value) else 0.0


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------


def section_status(folder: Path, data: dict[str, Any] | None, error: str | None) -> Status:
    """The honest status of a section folder.

    ``done`` only when the run finished and named no limitation; ``done, limited`` with the
    limitations listed; ``failed`` when the folder holds a run that never finished (measurements
    or artifacts but no ``section.json``); ``unreadable``; ``not run``.
    """
    if error:
        return Status("unreadable", "unreadable", f"{SECTION_FILE} could not be read.")
    if data is None:
        started = folder.is_dir() and any(folder.iterdir())
        if started:
            return Status("failed", "failed or interrupted",
                          f"{folder} holds a run that did not finish (no {SECTION_FILE}).",
                          "This section started but did not finish; rerun it (with --resume where offered).")
        return Status("not-run", "not run", "", f"Not run: no results in {folder}.")
    limitations = [str(x) for x in data.get("limitations") or []]
    if limitations:
        return Status("limited", "done, limited", "Limitations: " + "; ".join(limitations) + ".")
    return Status("done", "done")


def _figure_views(name: str, folder: Path, figures: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    views = {}
    for number, fig in enumerate(figures, start=1):
        path = str(fig.get("path", ""))
        views[path] = {"path": path, "src": f"{name}/{path}", "exists": (folder / path).is_file(),
                       "caption": str(fig.get("caption", "")), "number": number}
    return views


def _table_view(table: dict[str, Any]) -> dict[str, Any]:
    rows = [[{"text": _fmt(c), "num": _is_num(c)} for c in row] for row in table.get("rows", [])]
    return {"title": str(table.get("title", "")), "columns": [str(c) for c in table.get("columns", [])],
            "rows": rows}


def _topic_views(name: str, folder: Path, data: dict[str, Any]) -> list[dict[str, Any]]:
    """The section's topics; what no topic claims goes into a last topic, "More results"."""
    figures = _figure_views(name, folder, data.get("figures") or [])
    tables = {str(t.get("title", "")): t for t in data.get("tables") or []}
    blocks = {str(k): str(v) for k, v in (data.get("text_blocks") or {}).items()}
    observations = [str(o) for o in data.get("observations") or []]
    topics = [dict(t) for t in data.get("topics") or []]
    used = {kind: set() for kind in ("obs", "fig", "tab", "txt")}
    views = []
    for topic in topics:
        obs = [str(o) for o in topic.get("observations", [])]
        figs = [figures[p] for p in topic.get("figures", []) if p in figures]
        tabs = [_table_view(tables[t]) for t in topic.get("tables", []) if t in tables]
        txts = [(k, blocks[k]) for k in topic.get("text_blocks", []) if k in blocks]
        used["obs"].update(obs)
        used["fig"].update(f["path"] for f in figs)
        used["tab"].update(t["title"] for t in tabs)
        used["txt"].update(k for k, _ in txts)
        views.append({"anchor": f"{name}-{topic.get('key', len(views))}", "title": str(topic.get("title", "")),
                      "observations": obs, "figures": figs, "tables": tabs, "text_blocks": txts})
    rest = {
        "anchor": f"{name}-more" if views else f"{name}-results",
        "title": "More results" if views else "Results",
        "observations": [o for o in observations if o not in used["obs"]],
        "figures": [f for p, f in figures.items() if p not in used["fig"]],
        "tables": [_table_view(t) for k, t in tables.items() if k not in used["tab"]],
        "text_blocks": [(k, v) for k, v in blocks.items() if k not in used["txt"]],
    }
    if any(rest[k] for k in ("observations", "figures", "tables", "text_blocks")):
        views.append(rest)
    return views


def _section_view(name: str, folder: Path, data: dict[str, Any] | None, error: str | None) -> SectionView:
    from rnnlab.sections import TITLES

    title = str(data.get("title")) if data else TITLES.get(name, name)
    view = SectionView(name, title, folder, section_status(folder, data, error), data, error)
    if data is None:
        return view
    settings = data.get("settings") or {}
    view.topics = _topic_views(name, folder, data)
    anchors = {t["anchor"].removeprefix(f"{name}-") for t in view.topics}
    view.findings = [{"text": str(f.get("text", "")),
                      "anchor": f"{name}-{f.get('topic')}" if f.get("topic") in anchors else ""}
                     for f in data.get("findings") or []]
    view.run_line = (f"Profile {settings.get('profile', '—')}, seed {settings.get('seed', '—')}, "
                     f"device {settings.get('device', '—')}, wall time "
                     f"{format_seconds(settings.get('wall_time_s'))}.")
    notebook = settings.get("notebook")
    if isinstance(notebook, dict):
        view.notebook = f"{name}/{notebook.get('file', name + '.ipynb')}"
    view.settings = [(k, _fmt(v)) for k, v in _settings_pairs(settings)]
    config = settings.get("config") or data.get("config") or {}
    view.config = [(str(k), _fmt(v)) for k, v in dict(config).items()]
    view.metrics = [(k, _fmt(v)) for k, v in _flatten_metrics(data.get("metrics") or {})]
    return view


def _safe_section_view(name: str, folder: Path, data: dict[str, Any] | None, error: str | None) -> SectionView:
    """A section's view; a malformed section.json shows as unreadable instead of failing."""
    try:
        return _section_view(name, folder, data, error)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        return _section_view(name, folder, None, f"malformed {SECTION_FILE}: {type(exc).__name__}: {exc}")


def _read_entries(out_root: Path) -> list[tuple[str, Path, dict[str, Any] | None, str | None]]:
    """(name, folder, section data or None, error or None) of every section, in order."""
    from rnnlab.sections import SECTIONS

    names = list(SECTIONS)
    extra = sorted(p.name for p in out_root.iterdir()
                   if p.is_dir() and (p / SECTION_FILE).is_file() and p.name not in names)
    entries = []
    for name in names + extra:
        folder = out_root / name
        data, error = None, None
        if (folder / SECTION_FILE).is_file():
            try:
                data = load_section_data(folder)
            except Exception as exc:  # noqa: BLE001 - shown in the report instead of failing
                error = str(exc)
        entries.append((name, folder, data, error))
    return entries


# --------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------


def render_report(out_root: Path, sections: list[SectionView]) -> str:
    """The HTML text of the report (Jinja2, autoescaped)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    total = sum(_wall_time(s.data) for s in sections)
    return env.get_template("report.html.j2").render(
        css=(TEMPLATES / "report.css").read_text(encoding="utf-8"),
        generated=_dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        version=__version__,
        root=str(out_root.resolve()),
        total_time=format_seconds(total),
        sections=sections,
    )


def build_report(out_root: str | Path = "results") -> Path:
    """Write ``<out_root>/index.html`` from the section folders found there.

    Parameters
    ----------
    out_root : path
        The results root holding ``<name>/section.json`` folders.

    Returns
    -------
    Path
        The written report.
    """
    out_root = ensure_writable_dir(out_root)
    views = [_safe_section_view(*entry) for entry in _read_entries(out_root)]
    return atomic_write_text(out_root / REPORT_FILE, render_report(out_root, views))


def report_size(out_root: str | Path) -> dict[str, int]:
    """Bytes of the page and of the figure files it shows (what a reader downloads)."""
    out_root = Path(out_root)
    page = (out_root / REPORT_FILE).stat().st_size
    images = [p for p in out_root.glob("*/figures/*.png") if (p.parent.parent / METRICS_FILE).is_file()]
    return {"page_bytes": page, "figures": len(images), "figure_bytes": sum(p.stat().st_size for p in images)}


def describe_report(path: Path) -> str:
    """``"<path> (page 45 KB; 23 figure files beside it, 3.1 MB)"``: what a reader loads."""
    size = report_size(path.parent)
    return (f"{path} (page {size['page_bytes'] / 1024:.0f} KB; {size['figures']} figure files "
            f"beside it, {size['figure_bytes'] / 2**20:.1f} MB)")
