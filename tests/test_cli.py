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


def _all_command_paths(parser, prefix=()):
    import argparse

    yield prefix
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _all_command_paths(sub, prefix + (name,))


def test_every_subcommand_has_working_help(capsys):
    import pytest

    from rnnlab.cli import build_parser

    paths = list(_all_command_paths(build_parser()))
    assert ("bench", "engine") in paths and ("run",) in paths
    for path in paths:
        with pytest.raises(SystemExit) as exc:
            main([*path, "--help"])
        assert exc.value.code == 0, path
        assert "usage: rnnlab" in capsys.readouterr().out
