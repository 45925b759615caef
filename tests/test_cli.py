import subprocess
import sys

from rnnlab.cli import main


def test_help_exits_zero(capsys):
    try:
        main(["--help"])
    except SystemExit as exc:
        assert exc.code == 0
    assert "rnnlab" in capsys.readouterr().out


def test_module_entry_point_runs():
    out = subprocess.run([sys.executable, "-m", "rnnlab", "--version"], capture_output=True, text=True)
    assert out.returncode == 0
    assert out.stdout.startswith("rnnlab ")
