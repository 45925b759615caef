"""Show a section's results inside a Jupyter notebook.

A section's notebook (``notebooks/<name>.py``) typically does::

    from rnnlab.experiments.runner import load_or_run
    from rnnlab.report.display import show_section

    result = load_or_run("q1")
    show_section(result)

or, to put explanations between the pieces, ``show_observations(result)``,
``show_figure(result, "loss_curves")``, ``show_tables(result)``, ``show_text(result, "samples")``.
Figures are read from the section's results folder, ``$RNNLAB_OUT/<name>`` (default
``results/<name>``) unless ``out_dir`` is given.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rnnlab.errors import ConfigError, DataError
from rnnlab.results import Figure, SectionResult, section_dir

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|~])")


def _md_escape(text: str) -> str:
    """Text shown literally in Markdown (no emphasis, links or HTML from the content)."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


def _display(obj: Any) -> None:
    from IPython.display import display

    display(obj)


def _markdown(text: str) -> None:
    from IPython.display import Markdown

    _display(Markdown(text))


def _out_dir(result: SectionResult, out_dir: str | Path | None) -> Path:
    if out_dir is not None:
        return Path(out_dir)
    return section_dir(result.name)


def figure_path(result: SectionResult, which: int | str, out_dir: str | Path | None = None) -> Path:
    """The file of a figure, chosen by index or by file name (with or without ``.png``)."""
    figure = _pick_figure(result, which)
    return _out_dir(result, out_dir) / figure.path


def _pick_figure(result: SectionResult, which: int | str) -> Figure:
    if isinstance(which, int):
        if not -len(result.figures) <= which < len(result.figures):
            raise ConfigError(
                f"expected a figure index below {len(result.figures)} for {result.name}, "
                f"found {which}"
            )
        return result.figures[which]
    for figure in result.figures:
        stem = Path(figure.path).stem
        if which in (figure.path, Path(figure.path).name, stem):
            return figure
    names = ", ".join(Path(f.path).stem for f in result.figures) or "none"
    raise ConfigError(f"unknown figure {which!r} of {result.name}; expected one of: {names}")


def show_observations(result: SectionResult) -> None:
    """The section's observations as a Markdown bullet list."""
    if result.observations:
        _markdown("\n".join(f"- {_md_escape(o)}" for o in result.observations))
    else:
        _markdown("*No observations recorded.*")


def show_tables(result: SectionResult) -> None:
    """Each table as a titled pandas DataFrame."""
    import pandas as pd

    for table in result.tables:
        _markdown(f"**{_md_escape(table.title)}**")
        frame = pd.DataFrame(table.rows, columns=table.columns)
        if len(table.columns) > 1:  # the first column names the rows (e.g. the model)
            frame = frame.set_index(table.columns[0])
        _display(frame)


def show_figure(result: SectionResult, which: int | str, out_dir: str | Path | None = None) -> None:
    """One figure (by index or file name) with its caption."""
    from IPython.display import Image

    figure = _pick_figure(result, which)
    path = _out_dir(result, out_dir) / figure.path
    if not path.is_file():
        raise DataError(f"expected the figure file {path}, found none")
    number = result.figures.index(figure) + 1
    _display(Image(filename=str(path)))
    _markdown(f"*Figure {number}. {_md_escape(figure.caption)}*")


def show_text(result: SectionResult, key: str | None = None) -> None:
    """The text block ``key`` (or all of them) printed as plain text."""
    keys = list(result.text_blocks) if key is None else [key]
    for k in keys:
        if k not in result.text_blocks:
            known = ", ".join(result.text_blocks) or "none"
            raise ConfigError(
                f"unknown text block {k!r} of {result.name}; expected one of: {known}"
            )
        _markdown(f"**{_md_escape(k)}**")
        print(result.text_blocks[k])


def show_config(result: SectionResult) -> None:
    """The section's configuration as a two-column table."""
    import pandas as pd

    rows = [(k, v if not isinstance(v, (list, dict)) else str(v)) for k, v in result.config.items()]
    _display(pd.DataFrame(rows, columns=["setting", "value"]).set_index("setting"))


def show_section(
    result: SectionResult,
    out_dir: str | Path | None = None,
    *,
    observations: bool = True,
    tables: bool = True,
    figures: bool = True,
    text: bool = True,
    config: bool = False,
) -> None:
    """Show a whole section: observations, tables, figures with captions, text blocks.

    Parameters
    ----------
    result : SectionResult
        From :func:`rnnlab.experiments.runner.load_or_run`.
    out_dir : path, optional
        The section's results folder (default ``$RNNLAB_OUT/<name>`` or ``results/<name>``).
    observations, tables, figures, text, config : bool
        Which parts to show.
    """
    _markdown(f"## {_md_escape(result.title)}")
    if observations:
        _markdown("### Observations")
        show_observations(result)
    if tables and result.tables:
        _markdown("### Tables")
        show_tables(result)
    if figures and result.figures:
        _markdown("### Figures")
        for index in range(len(result.figures)):
            show_figure(result, index, out_dir)
    if text and result.text_blocks:
        show_text(result)
    if config:
        _markdown("### Configuration")
        show_config(result)
