"""A pip install of the built wheel, outside the checkout, runs a section with its notebook.

The wheel is built from this checkout without network (no build isolation: the dev extra
brings setuptools), installed without dependencies into a temporary virtual environment that
reuses this environment's installed packages (a .pth line), and run from a folder outside the
checkout. The notebook sources must come from inside the installed package.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(cmd, cwd, env=None):
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, f"{cmd}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out


@pytest.mark.slow
def test_wheel_installed_outside_the_checkout_runs_a_section(tmp_path):
    pytest.importorskip("setuptools", reason="setuptools is needed to build the wheel (pip install -e .[dev])")
    dist = tmp_path / "dist"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-q", "-w", str(dist), str(ROOT)], cwd=tmp_path)
    wheel = next(dist.glob("rnnlab-*.whl"))
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path)
    python = venv / "bin" / "python"
    site = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                    cwd=tmp_path).stdout.strip())
    (site / "reuse_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q",
         str(wheel)], cwd=tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RNNLAB_") and k != "PYTHONPATH"}
    where = run([str(python), "-c", "import rnnlab; print(rnnlab.__file__)"], cwd=elsewhere, env=env).stdout
    assert str(site) in where and str(ROOT) not in where, where
    run([str(venv / "bin" / "rnnlab"), "run", "exercises", "--quick", "--no-progress", "--out", "results"],
        cwd=elsewhere, env=env)
    folder = elsewhere / "results" / "exercises"
    assert (folder / "exercises.ipynb").is_file() and (folder / "section.json").is_file()
    assert (elsewhere / "results" / "index.html").is_file()
