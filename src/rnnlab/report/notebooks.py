"""Execute a notebook kept as a jupytext percent-format ``.py`` source into an ``.ipynb``.

Notebook sources live in the repository as clean, diffable ``notebooks/<name>.py`` files
(``# %%`` code cells, ``# %% [markdown]`` cells, no outputs). :func:`execute_notebook` reads one
with jupytext, runs it with nbclient in a fresh IPython kernel and writes the executed notebook,
outputs included.

The kernel is always the Python interpreter running rnnlab (``sys.executable``), whatever
kernelspecs the user has registered: a ``python3`` kernelspec in ``~/.local/share/jupyter`` that
points at another interpreter (without rnnlab installed) is ignored, and so is the venv being
activated or not.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from pathlib import Path

from rnnlab.errors import DataError, RnnlabError
from rnnlab.results import atomic_write_text

KERNEL_NAME = "python3"
DEFAULT_CELL_TIMEOUT_S = 3600  # per cell; notebooks normally reuse saved results and are quick

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _kernel_manager_class() -> type:
    """A KernelManager whose only kernelspec is ipykernel's own, launched with sys.executable."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from traitlets import default

    class LabKernelManager(KernelManager):
        @default("kernel_spec_manager")
        def _kernel_spec_manager_default(self) -> KernelSpecManager:
            # No kernel folders: "python3" resolves to ipykernel's native spec, whose argv is
            # [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"].
            return KernelSpecManager(kernel_dirs=[], ensure_native_kernel=True, parent=self)

        @default("transport_encryption")  # a no-op with jupyter_client versions without it
        def _transport_encryption_default(self) -> str:
            # Encrypted local transport when libzmq supports it (and no "running over TCP
            # without encryption" warning from the kernel).
            import zmq

            return "auto" if zmq.has("curve") else "disabled"

    return LabKernelManager


def read_source(source: str | Path):
    """Read a jupytext percent-format ``.py`` source into a notebook node.

    Raises
    ------
    DataError
        When the file is missing or is not a percent-format notebook source.
    """
    import jupytext

    source = Path(source)
    if not source.is_file():
        raise DataError(f"expected a notebook source file at {source}, found none")
    text = source.read_text(encoding="utf-8")
    if "# %%" not in text:
        raise DataError(
            f"expected a jupytext percent-format notebook (cells starting with '# %%') in "
            f"{source}, found no cell markers"
        )
    nb = jupytext.reads(text, fmt="py:percent")
    nb.metadata["kernelspec"] = {
        "name": KERNEL_NAME,
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nb.metadata.pop("jupytext", None)  # the executed copy is a plain notebook
    return nb


def _write_notebook(nb, output: Path) -> None:
    import nbformat

    atomic_write_text(output, nbformat.writes(nb))


def _failing_cell(nb) -> tuple[int, str]:
    """The 1-based number (among code cells) and first source line of the cell that failed."""
    number = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        number += 1
        if any(out.get("output_type") == "error" for out in cell.get("outputs", [])):
            first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")
            return number, first.strip()
    return 0, ""


def execute_notebook(
    source: str | Path,
    output: str | Path,
    cwd: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: int | None = DEFAULT_CELL_TIMEOUT_S,
) -> float:
    """Execute a percent-format notebook source and write the executed ``.ipynb``.

    Parameters
    ----------
    source : path
        The ``notebooks/<name>.py`` source (jupytext percent format).
    output : path
        Where the executed notebook goes, e.g. ``results/q1/q1.ipynb``. Written even when a cell
        fails (with the outputs up to the failure), so the error can be inspected.
    cwd : path, optional
        The kernel's working directory (default: the source's parent's parent, the repo root).
    env : mapping, optional
        Environment variables added to the kernel's environment (e.g. ``RNNLAB_OUT``).
    timeout : int or None
        Seconds allowed per cell (None: no limit).

    Returns
    -------
    float
        Wall time of the execution in seconds.

    Raises
    ------
    RnnlabError
        One line naming the failing cell and its exception when the notebook fails.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    source = Path(source)
    output = Path(output)
    nb = read_source(source)
    workdir = Path(cwd) if cwd is not None else source.resolve().parent.parent
    kernel_env = dict(os.environ)
    kernel_env.update({k: str(v) for k, v in (env or {}).items()})
    kernel_env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # no debugger warning in the outputs

    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=KERNEL_NAME,
        kernel_manager_class=_kernel_manager_class(),
        resources={"metadata": {"path": str(workdir)}},
    )
    start = time.perf_counter()
    try:
        client.execute(env=kernel_env)
    except CellExecutionError as exc:
        _write_notebook(nb, output)
        number, first_line = _failing_cell(nb)
        where = f"cell {number} ({first_line!r})" if number else "a cell"
        message = _ANSI.sub("", f"{exc.ename}: {exc.evalue}").strip().splitlines()
        detail = message[0] if message else exc.ename
        raise RnnlabError(
            f"notebook {source.name} failed in {where}: {detail} (partial notebook: {output})"
        ) from None
    except CellTimeoutError:
        _write_notebook(nb, output)
        raise RnnlabError(
            f"notebook {source.name}: a cell ran longer than {timeout} s (partial notebook: "
            f"{output})"
        ) from None
    except DeadKernelError as exc:
        _write_notebook(nb, output)
        raise RnnlabError(f"notebook {source.name}: the kernel died ({exc})") from None
    except RuntimeError as exc:  # e.g. the kernel did not start
        raise RnnlabError(f"notebook {source.name}: could not run a Python kernel: {exc}") from None
    _write_notebook(nb, output)
    return time.perf_counter() - start
