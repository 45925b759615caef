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


def test_gradcheck_command_passes(capsys):
    assert main(["gradcheck", "--steps", "3"]) == 0
    out = capsys.readouterr().out
    assert "PASS" in out and "gru-cho" in out and "weight_hh_l0" in out


def test_gradcheck_rejects_bad_sizes(capsys):
    assert main(["gradcheck", "--hidden-size", "0"]) == 2
    assert "expected --hidden-size >= 1, found 0" in capsys.readouterr().err


def test_limit_threads_is_scoped():
    import torch

    from rnnlab.threads import limit_threads

    before = torch.get_num_threads()
    with limit_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
