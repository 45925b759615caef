"""The single-file HTML report of a results folder.

:func:`build_report` reads ``<out_root>/<name>/section.json`` for every registered section (and
any other section folder found there) and writes ``<out_root>/index.html``: one self-contained
file, figures embedded as base64 data URIs, no external resources, readable offline. Per
section: title, observations, tables, figures with captions, text blocks, the section's config
and its run settings (profile, seed, device, versions, wall time, and ``metrics["data"]`` when a
section records which data it used). Sections without results are listed as "not run".
Every piece of text from the results is HTML-escaped.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import math
import mimetypes
from pathlib import Path
from typing import Any

from rnnlab import __version__
from rnnlab.results import REPORT_FILE, SECTION_FILE, ensure_writable_dir, format_seconds, load_section_data

MAX_INLINE_LIST = 8  # metrics lists longer than this are summarised in the report

CSS = """
:root { --fg: #1d2330; --muted: #5b6475; --line: #d9dee7; --bg-alt: #f5f7fa; --accent: #0072B2; }
* { box-sizing: border-box; }
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--fg); line-height: 1.5; margin: 0; background: #fff; }
main { max-width: 1040px; margin: 0 auto; padding: 1.5rem 1.25rem 4rem; }
h1 { font-size: 1.9rem; margin: 0.2rem 0 0.3rem; }
h2 { font-size: 1.45rem; margin-top: 2.8rem; padding-top: 0.8rem; border-top: 3px solid var(--accent); }
h3 { font-size: 1.1rem; margin-top: 1.6rem; color: #2b3445; }
a { color: var(--accent); }
.muted { color: var(--muted); font-size: 0.92rem; }
nav.toc { background: var(--bg-alt); border: 1px solid var(--line); border-radius: 6px;
          padding: 0.6rem 1.2rem; margin: 1.2rem 0; }
nav.toc ol { margin: 0.3rem 0; padding-left: 1.4rem; }
.status { display: inline-block; font-size: 0.78rem; padding: 0 0.45rem; border-radius: 3px;
          margin-left: 0.4rem; vertical-align: middle; }
.status.ok { background: #d8efe6; color: #0b5e43; }
.status.missing { background: #f7e3d5; color: #8a3a00; }
ul.observations li { margin: 0.35rem 0; }
table { border-collapse: collapse; margin: 0.6rem 0 1rem; font-size: 0.9rem; }
caption { caption-side: top; text-align: left; font-weight: 600; padding: 0.2rem 0; }
th, td { border: 1px solid var(--line); padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }
th { background: var(--bg-alt); }
tbody tr:nth-child(even) td { background: #fafbfc; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.kv th { width: 14rem; font-weight: 600; }
figure { margin: 1.2rem 0 1.8rem; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; }
figcaption { color: var(--muted); font-size: 0.92rem; margin-top: 0.3rem; }
pre { background: var(--bg-alt); border: 1px solid var(--line); border-radius: 4px; padding: 0.7rem;
      overflow-x: auto; white-space: pre-wrap; font-size: 0.85rem; }
details { margin: 0.6rem 0; }
summary { cursor: pointer; font-weight: 600; }
.notrun { color: var(--muted); font-style: italic; }
.error { color: #8a1c1c; }
"""


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: Any) -> str:
    """A table cell or setting as short text (floats to 4 significant digits)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
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


def _kv_table(pairs: list[tuple[str, Any]], caption: str | None = None) -> str:
    rows = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(_fmt(v))}</td></tr>" for k, v in pairs)
    cap = f"<caption>{_esc(caption)}</caption>" if caption else ""
    return f'<table class="kv">{cap}<tbody>{rows}</tbody></table>'


def _table_html(table: dict[str, Any]) -> str:
    head = "".join(f"<th>{_esc(c)}</th>" for c in table.get("columns", []))
    body = []
    for row in table.get("rows", []):
        cells = "".join(
            f'<td class="num">{_esc(_fmt(c))}</td>' if _is_num(c) else f"<td>{_esc(_fmt(c))}</td>"
            for c in row
        )
        body.append(f"<tr>{cells}</tr>")
    return (
        f"<table><caption>{_esc(table.get('title', ''))}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def _figure_html(section_dir: Path, figure: dict[str, Any], number: int) -> str:
    rel = str(figure.get("path", ""))
    caption = f"Figure {number}. {figure.get('caption', '')}"
    path = section_dir / rel
    if not path.is_file():
        return (
            f'<figure><p class="error">Figure file missing: {_esc(rel)}</p>'
            f"<figcaption>{_esc(caption)}</figcaption></figure>"
        )
    mime = mimetypes.guess_type(path.name)[0] or "image/png"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img src="data:{mime};base64,{data}" alt="{_esc(figure.get("caption", rel))}">'
        f"<figcaption>{_esc(caption)}</figcaption></figure>"
    )


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
            return [
                (prefix, f"{len(value)} values, first {_fmt(value[0])}, last {_fmt(value[-1])}")
            ]
        if all(isinstance(v, dict) for v in value) and len(value) <= MAX_INLINE_LIST:
            out = []
            for i, sub in enumerate(value):
                out += _flatten_metrics(sub, f"{prefix}[{i}]")
            return out
        return [(prefix, f"list of {len(value)} items (see metrics.json)")]
    return [(prefix, value)]


def _settings_pairs(settings: dict[str, Any], metrics: dict[str, Any]) -> list[tuple[str, Any]]:
    notebook = settings.get("notebook")
    pairs: list[tuple[str, Any]] = [
        ("Profile", settings.get("profile")),
        ("Seed", settings.get("seed")),
        ("Device", f"{settings.get('device', '—')} ({settings.get('device_name', '—')})"),
        ("Wall time", format_seconds(settings.get("wall_time_s"))),
        ("Started", settings.get("started_at")),
        ("Section options", settings.get("options") or "none"),
        ("Python", settings.get("python")),
        ("NumPy", settings.get("numpy")),
        ("PyTorch", settings.get("torch")),
        (
            "Torch threads / CPUs",
            f"{settings.get('torch_threads', '—')} / {settings.get('cpu_count', '—')}",
        ),
        ("Platform", settings.get("platform")),
        ("rnnlab", settings.get("rnnlab")),
        ("Command", settings.get("command")),
        (
            "Notebook",
            f"{notebook['file']} (executed in {format_seconds(notebook.get('wall_time_s'))})"
            if isinstance(notebook, dict)
            else "not executed",
        ),
    ]
    data = metrics.get("data") if isinstance(metrics, dict) else None
    if data:
        if isinstance(data, dict):
            pairs[5:5] = [(f"Data: {k}", v) for k, v in data.items()]
        else:
            pairs.insert(5, ("Data", data))
    return pairs


def _section_html(
    name: str, title: str, section_dir: Path, data: dict[str, Any] | None, error: str | None
) -> str:
    anchor = f"sec-{_esc(name)}"
    head = f'<section id="{anchor}"><h2>{_esc(title)}</h2>'
    if data is None:
        if error:
            body = (
                f'<p class="error">Results in {_esc(section_dir)} could not be read: '
                f"{_esc(error)}</p>"
            )
        else:
            body = (
                f'<p class="notrun">Not run: no results in {_esc(section_dir)}. '
                f"<code>rnnlab run {_esc(name)}</code> produces them.</p>"
            )
        return head + body + "</section>"

    settings = data.get("settings", {}) or {}
    parts = [head]
    notebook = settings.get("notebook")
    summary = (
        f"Profile {_esc(settings.get('profile', '—'))}, seed {_esc(settings.get('seed', '—'))}, "
        f"device {_esc(settings.get('device', '—'))}, wall time "
        f"{_esc(format_seconds(settings.get('wall_time_s')))}."
    )
    if isinstance(notebook, dict):
        link = f"{name}/{notebook.get('file', name + '.ipynb')}"
        summary += f' Executed notebook: <a href="{_esc(link)}">{_esc(link)}</a>.'
    parts.append(f'<p class="muted">{summary}</p>')

    parts.append("<h3>Observations</h3>")
    observations = data.get("observations") or []
    if observations:
        items = "".join(f"<li>{_esc(o)}</li>" for o in observations)
        parts.append(f'<ul class="observations">{items}</ul>')
    else:
        parts.append('<p class="muted">No observations recorded.</p>')

    tables = data.get("tables") or []
    if tables:
        parts.append("<h3>Tables</h3>")
        parts += [_table_html(t) for t in tables]

    figures = data.get("figures") or []
    if figures:
        parts.append("<h3>Figures</h3>")
        parts += [_figure_html(section_dir, f, i) for i, f in enumerate(figures, start=1)]

    for key, text in (data.get("text_blocks") or {}).items():
        parts.append(f"<h3>{_esc(key)}</h3><pre>{_esc(text)}</pre>")

    config = settings.get("config") or data.get("config") or {}
    parts.append("<h3>Configuration</h3>")
    parts.append(_kv_table(list(config.items())) if config else '<p class="muted">None.</p>')
    parts.append("<h3>Run settings</h3>")
    parts.append(_kv_table(_settings_pairs(settings, data.get("metrics") or {})))

    metrics = data.get("metrics") or {}
    if metrics:
        parts.append(
            "<details><summary>All metrics (from metrics.json)</summary>"
            + _kv_table(_flatten_metrics(metrics))
            + "</details>"
        )
    parts.append("</section>")
    return "\n".join(parts)


def _wall_time(data: dict[str, Any]) -> float:
    """The run's wall time in seconds, or 0 when the saved value is not a finite number."""
    settings = data.get("settings") if isinstance(data.get("settings"), dict) else {}
    value = settings.get("wall_time_s")
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else 0.0


def _safe_section_html(
    name: str, title: str, section_dir: Path, data: dict[str, Any] | None, error: str | None
) -> str:
    """A section's HTML; a malformed section.json shows as unreadable instead of failing."""
    try:
        return _section_html(name, title, section_dir, data, error)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        why = f"malformed {SECTION_FILE}: {type(exc).__name__}: {exc}"
        return _section_html(name, title, section_dir, None, why)


def _read_entries(out_root: Path) -> list[tuple[str, str, Path, dict[str, Any] | None, str | None]]:
    """(name, title, folder, section data or None, error or None) of every section, in order."""
    from rnnlab.sections import SECTIONS

    names = list(SECTIONS)
    extra = sorted(
        p.name
        for p in out_root.iterdir()
        if p.is_dir() and (p / SECTION_FILE).is_file() and p.name not in names
    )
    entries = []
    for name in names + extra:
        section_dir = out_root / name
        data, error = None, None
        if (section_dir / SECTION_FILE).is_file():
            try:
                data = load_section_data(section_dir)
            except Exception as exc:  # noqa: BLE001 - shown in the report instead of failing
                error = str(exc)
        title = str(data.get("title")) if data else name
        entries.append((name, title, section_dir, data, error))
    return entries


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
    entries = _read_entries(out_root)
    toc_items = []
    summary_rows = []
    for name, title, _, data, error in entries:
        status = (
            '<span class="status ok">done</span>'
            if data
            else '<span class="status missing">unreadable</span>'
            if error
            else '<span class="status missing">not run</span>'
        )
        toc_items.append(f'<li><a href="#sec-{_esc(name)}">{_esc(title)}</a>{status}</li>')
        settings = (data or {}).get("settings", {}) or {}
        summary_rows.append(
            [
                name,
                title,
                "done" if data else "not run",
                settings.get("profile"),
                settings.get("seed"),
                settings.get("device"),
                format_seconds(settings.get("wall_time_s")) if data else None,
            ]
        )
    total = sum(_wall_time(d) for _, _, _, d, _ in entries if d)
    generated = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
    summary = _table_html(
        {
            "title": f"Sections (total wall time {format_seconds(total)})",
            "columns": ["Section", "Title", "Status", "Profile", "Seed", "Device", "Wall time"],
            "rows": summary_rows,
        }
    )
    sections_html = "\n".join(_safe_section_html(*entry) for entry in entries)
    document = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>rnnlab report</title>
<style>{CSS}</style>
</head>
<body>
<main>
<h1>rnnlab report</h1>
<p class="muted">RNN, LSTM and GRU: every figure and observation below was computed from the
numbers measured in this run. Generated {_esc(generated)} by rnnlab {_esc(__version__)} from
{_esc(out_root.resolve())}.</p>
<nav class="toc"><strong>Contents</strong><ol>{"".join(toc_items)}</ol></nav>
{summary}
{sections_html}
</main>
</body>
</html>
"""
    path = out_root / REPORT_FILE
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(document, encoding="utf-8")
    tmp.replace(path)
    return path
