"""The section runner and ``rnnlab run``, exercised with a fake section written to tmp_path."""

from __future__ import annotations

import json
import os
import struct
import sys
import zlib

import pytest

from rnnlab.cli import main
from rnnlab.errors import ConfigError, RnnlabError
from rnnlab.experiments import registry, runner
from rnnlab.experiments.base import SectionResult

FAKE_MODULE = "rnnlab_fake_section"

FAKE_SECTION = '''
"""A fake section for the runner tests: counts its runs in runs.log."""
from dataclasses import dataclass

from rnnlab.experiments.base import make_config, option
from rnnlab.results import Figure, Presentation, Table

NAME = "fake"
TITLE = "Fake <section> & co"
PNG = bytes.fromhex("{png_hex}")


@dataclass(frozen=True)
class Config:
    profile: str
    seed: int
    n: int = option(3, "size of the fake", flag="--fake-n", minimum=1, maximum=1000, metavar="N")
    imdb_dir: str | None = option(None, "an aclImdb/ folder in its official layout (train/test, pos/neg)", metavar="DIR")
    sizes: tuple[int, ...] = (1, 2)


PROFILE_OVERRIDES = {{"quick": {{"n": 2}}, "default": {{}}, "full": {{"n": 4}}}}


def build_config(profile, seed, options):
    return make_config(Config, PROFILE_OVERRIDES, profile, seed, options, section="fake")


def check(config, out_dir):
    if config.n == 7:
        from rnnlab.errors import ConfigError
        raise ConfigError("expected saved units that fit, found n = 7")


def measure(config, ctx):
    with open(ctx.out_dir / "runs.log", "a") as handle:
        handle.write(f"{{config.n}}\\n")
    loss = 0.5 * config.n
    return {{"loss": loss, "curve": [loss] * 20, "data": {{"source": "synthetic"}}, "gap": float("nan")}}


def present(metrics, config, out_dir):
    (out_dir / "figures").mkdir(exist_ok=True)
    (out_dir / "figures" / "curve.png").write_bytes(PNG)
    loss = metrics["loss"]
    return Presentation(
        observations=[f"The loss is {{loss:.2f}} <b>bold</b> & done."],
        figures=[Figure(path="figures/curve.png", caption="A <curve> & caption")],
        tables=[Table(title="Losses <1>", columns=["model", "loss"], rows=[["RNN", loss]])],
        text_blocks={{"samples": "<script>alert(1)</script>"}},
    )
'''

NOTEBOOK = """# %% [markdown]
# # Fake section
# The results come from `load_or_run`, which reuses what the runner just wrote.

# %%
import os
import sys

sys.path.insert(0, os.environ["RNNLAB_TEST_FAKE_DIR"])
from rnnlab.experiments import registry
from rnnlab.experiments.runner import load_or_run
from rnnlab.report.display import show_section

registry.SECTIONS["fake"] = "{module}"
result = load_or_run("fake")
show_section(result)

# %%
print("kernel python:", sys.executable)
print("profile:", os.environ["RNNLAB_PROFILE"], "runs:", len(open(os.path.join(os.environ["RNNLAB_OUT"], "fake", "runs.log")).read().split()))
"""


def tiny_png() -> bytes:
    """A valid 2x2 grey PNG, made without matplotlib."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    raw = b"".join(b"\x00" + b"\x80\x80" for _ in range(2))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """Register the fake section (module file in tmp_path/mod); returns the results root."""
    mod_dir = tmp_path / "mod"
    mod_dir.mkdir()
    (mod_dir / f"{FAKE_MODULE}.py").write_text(FAKE_SECTION.format(png_hex=tiny_png().hex()))
    monkeypatch.syspath_prepend(str(mod_dir))
    monkeypatch.delitem(sys.modules, FAKE_MODULE, raising=False)
    monkeypatch.setattr(registry, "SECTIONS", {"fake": FAKE_MODULE})
    monkeypatch.setenv("RNNLAB_TEST_FAKE_DIR", str(mod_dir))
    for var in (
        "RNNLAB_OUT",
        "RNNLAB_PROFILE",
        "RNNLAB_SEED",
        "RNNLAB_DEVICE",
        "RNNLAB_OPTIONS",
        "RNNLAB_NOTEBOOK_DIR",
    ):
        monkeypatch.delenv(var, raising=False)
    return tmp_path / "results"


def runs(out_root) -> list[str]:
    return (out_root / "fake" / "runs.log").read_text().split()


def test_run_section_writes_results_and_round_trips(fake):
    result = runner.run_section(
        "fake", fake, profile="quick", seed=3, device="cpu", progress=False, notebook=False
    )
    folder = fake / "fake"
    assert (folder / "figures" / "curve.png").is_file()
    assert json.loads((folder / "metrics.json").read_text())["loss"] == pytest.approx(1.0)
    observations = (folder / "observations.md").read_text()
    assert "The loss is 1.00 <b>bold</b> & done." in observations
    data = json.loads((folder / "section.json").read_text())
    settings = data["settings"]
    assert settings["profile"] == "quick" and settings["seed"] == 3 and settings["device"] == "cpu"
    assert settings["config"] == {"profile": "quick", "seed": 3, "n": 2, "imdb_dir": None, "sizes": [1, 2]}
    for key in ("wall_time_s", "python", "numpy", "torch", "platform", "started_at", "rnnlab"):
        assert key in settings
    assert settings["notebook"] is None
    loaded = runner.load_section(folder)
    assert isinstance(loaded, SectionResult)
    assert loaded.to_dict() == runner.to_jsonable(result.to_dict())
    assert loaded.figures[0].caption == "A <curve> & caption"
    assert loaded.tables[0].rows == [["RNN", 1.0]]


def test_load_or_run_reuses_matching_results_and_reruns_on_change(fake, monkeypatch):
    runner.run_section("fake", fake, profile="quick", progress=False, notebook=False)
    assert runs(fake) == ["2"]
    # Nothing given: the saved run's settings are taken, so the results are reused.
    result = runner.load_or_run("fake", out_root=fake)
    assert runs(fake) == ["2"] and result.metrics["loss"] == pytest.approx(1.0)
    # A different option changes the config: the section runs again (without its notebook).
    result = runner.load_or_run("fake", out_root=fake, options={"n": 5})
    assert runs(fake) == ["2", "5"] and result.metrics["loss"] == pytest.approx(2.5)
    assert not (fake / "fake" / "fake.ipynb").exists()
    assert runner.load_or_run("fake", out_root=fake, profile="quick", options={"n": 5})
    assert runs(fake) == ["2", "5"]
    # Environment variables (as set by the runner for notebooks) take precedence.
    monkeypatch.setenv("RNNLAB_OUT", str(fake))
    monkeypatch.setenv("RNNLAB_PROFILE", "default")
    monkeypatch.setenv("RNNLAB_OPTIONS", "{}")
    assert runner.load_or_run("fake").config["n"] == 3
    assert runs(fake) == ["2", "5", "3"]
    with pytest.raises(ConfigError, match="expected options of section"):
        runner.load_or_run("fake", options={"epochs": 2})


def test_unknown_section_profile_and_device_are_config_errors(fake, capsys):
    with pytest.raises(ConfigError, match=r"unknown section 'q9'; expected one of: fake"):
        runner.run_section("q9", fake)
    with pytest.raises(ConfigError, match="expected a profile"):
        runner.run_section("fake", fake, profile="huge")
    with pytest.raises(ConfigError, match="unknown device"):
        runner.resolve_device("tpu")
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "q9"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'q9'" in capsys.readouterr().err
    assert not fake.exists()


def test_cuda_without_gpu_is_one_line_error(fake, monkeypatch, capsys):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert runner.resolve_device("auto") == "cpu"
    with pytest.raises(RnnlabError, match="expected a CUDA GPU"):
        runner.resolve_device("cuda")
    assert main(["run", "fake", "--device", "cuda", "--out", str(fake), "--no-notebook"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "rnnlab: error: expected a CUDA GPU" in err
    assert not (fake / "fake").exists()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert runner.resolve_device("auto") == "cuda"


def test_unwritable_out_fails_before_any_work(fake, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(RnnlabError, match="cannot write results to .*expected a writable folder"):
        runner.run_section("fake", blocker / "results", progress=False, notebook=False)
    assert main(["run", "fake", "--quick", "--out", str(blocker), "--no-notebook"]) == 2
    err = capsys.readouterr().err
    assert (
        err.count("\n") == 1
        and f"{blocker}: expected a writable folder, found a file with that name" in err
    )
    readonly = tmp_path / "readonly"
    readonly.mkdir()
    readonly.chmod(0o500)
    try:
        if not os.access(readonly, os.W_OK):  # root writes anyway; then only the file case runs
            assert main(["run", "fake", "--quick", "--out", str(readonly), "--no-notebook"]) == 2
            assert "cannot write results" in capsys.readouterr().err
    finally:
        readonly.chmod(0o700)


def test_cli_run_with_section_options_and_report(fake, capsys):
    code = main(
        [
            "run",
            "fake",
            "--quick",
            "--seed",
            "4",
            "--fake-n",
            "4",
            "--out",
            str(fake),
            "--no-notebook",
            "--no-progress",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert f"fake: {fake / 'fake'}/" in out and "report:" in out and "wall time:" in out
    settings = json.loads((fake / "fake" / "section.json").read_text())["settings"]
    assert settings["options"] == {"n": 4} and settings["seed"] == 4
    assert (fake / "index.html").is_file()
    assert (
        main(["run", "all", "--quick", "--out", str(fake), "--no-notebook", "--no-progress"]) == 0
    )
    assert runs(fake) == ["4", "2"]


def test_missing_notebook_source_fails_before_any_work(fake, tmp_path):
    with pytest.raises(RnnlabError, match="notebook source of section 'fake'.*--no-notebook"):
        runner.run_section(
            "fake", fake, profile="quick", progress=False, notebook_dir=tmp_path / "nowhere"
        )
    assert not (fake / "fake" / "runs.log").exists()


def test_options_shared_by_two_sections_are_declared_once(fake, tmp_path, monkeypatch, capsys):
    other = tmp_path / "mod" / "rnnlab_fake_other.py"
    other.write_text(
        (tmp_path / "mod" / f"{FAKE_MODULE}.py")
        .read_text()
        .replace("    n: int = option(3,", "    other_n: int = option(3,")
        .replace('flag="--fake-n"', 'flag="--other-n"')
        .replace('{"n": 2}', '{"other_n": 2}').replace('{"n": 4}', '{"other_n": 4}')
        .replace("config.n", "config.other_n")
    )
    monkeypatch.delitem(sys.modules, "rnnlab_fake_other", raising=False)
    monkeypatch.setattr(registry, "SECTIONS", {"fake": FAKE_MODULE, "other": "rnnlab_fake_other"})
    from rnnlab.cli import build_parser

    args = build_parser().parse_args(
        ["run", "all", "--imdb-dir", "/data/aclImdb", "--other-n", "2"]
    )
    assert args.imdb_dir == "/data/aclImdb" and args.other_n == 2
    # An option of another section is refused, naming the section that takes it.
    status = main(["run", "fake", "--other-n", "2", "--out", str(tmp_path / "r"), "--no-notebook"])
    assert status == 2 and "--other-n (an option of other)" in capsys.readouterr().err
    # The same flag declared with another type by two sections is a programming error.
    other.write_text(other.read_text().replace("imdb_dir: str | None = option(None,", "imdb_dir: float | None = option(None,"))
    monkeypatch.delitem(sys.modules, "rnnlab_fake_other", raising=False)
    with pytest.raises(ConfigError, match="declare --imdb-dir differently"):
        build_parser()


def test_option_values_are_checked_before_any_work(fake, tmp_path, capsys):
    out = tmp_path / "r"
    for argv, message in (
        (["--fake-n", "0"], "expected a value from 1 to 1000 for --fake-n, found 0"),
        (["--seed", str(2**63 + 1)], "expected a seed from 0 to"),
        (["--out", ""], "expected a results folder name, found an empty string"),
    ):
        status = main(["run", "fake", "--no-notebook", "--out", str(out), *argv])
        err = capsys.readouterr().err
        assert status == 2 and message in err and len(err.strip().splitlines()) == 1, err
        assert not (out / "fake" / "runs.log").exists()


def test_rebuild_presents_again_from_metrics_alone(fake):
    runner.run_section("fake", fake, profile="quick", device="cpu", progress=False, notebook=False)
    folder = fake / "fake"
    before = (folder / "observations.md").read_text()
    (folder / "observations.md").unlink()
    (folder / "figures" / "curve.png").unlink()
    # Strict JSON: NaN is written as the string "NaN" and read back as a float.
    text = (folder / "metrics.json").read_text()
    json.loads(text, parse_constant=lambda name: pytest.fail(f"non-standard JSON constant {name}"))
    assert '"gap": "NaN"' in text
    result = runner.rebuild_section(folder)
    assert (folder / "observations.md").read_text() == before
    assert (folder / "figures" / "curve.png").is_file()
    assert result.metrics["gap"] != result.metrics["gap"]  # NaN again
    assert (folder / "runs.log").read_text().split() == ["2"]  # nothing measured again
    assert main(["report", "--rebuild", "--out", str(fake)]) == 0


def test_notebook_is_executed_and_reuses_results(fake, tmp_path, monkeypatch):
    """One kernel: the executed notebook shows the results without recomputing them."""
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    (notebooks / "fake.py").write_text(NOTEBOOK.format(module=FAKE_MODULE))
    # As when `.venv/bin/rnnlab` runs without the venv activated: no venv on PATH.
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    runner.run_section("fake", fake, profile="quick", progress=False, notebook_dir=notebooks)
    assert runs(fake) == ["2"]
    nb = json.loads((fake / "fake" / "fake.ipynb").read_text())
    outputs = [
        out for cell in nb["cells"] if cell["cell_type"] == "code" for out in cell["outputs"]
    ]
    text = json.dumps(outputs)
    assert "image/png" in text
    assert "The loss is 1.00" in text
    assert f"kernel python: {sys.executable}" in text
    assert "profile: quick runs: 1" in text
    settings = json.loads((fake / "fake" / "section.json").read_text())["settings"]
    assert settings["notebook"]["file"] == "fake.ipynb"

    # A failing cell: one line naming the cell and the exception; the partial notebook is kept.
    (notebooks / "fake.py").write_text("# %%\nx = 1\n\n# %%\nraise ValueError('boom <1>')\n")
    from rnnlab.report.notebooks import execute_notebook

    with pytest.raises(RnnlabError, match=r"failed in cell 2 .*ValueError: boom <1>") as info:
        execute_notebook(notebooks / "fake.py", tmp_path / "failed.ipynb")
    assert "\n" not in str(info.value)
    assert (tmp_path / "failed.ipynb").is_file()


def test_notebook_kernel_is_this_python_whatever_kernelspecs_exist(tmp_path, monkeypatch):
    """A user's python3 kernelspec pointing elsewhere must not replace the venv's interpreter."""
    from rnnlab.report.notebooks import _kernel_manager_class

    spec_dir = tmp_path / "jupyter" / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(
        json.dumps(
            {
                "argv": ["/bin/false", "{connection_file}"],
                "display_name": "other",
                "language": "python",
            }
        )
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    argv = _kernel_manager_class()().kernel_spec.argv
    assert argv[:3] == [sys.executable, "-m", "ipykernel_launcher"]


def test_a_new_run_clears_the_previous_runs_outputs(fake, capsys):
    runner.run_section("fake", fake, profile="quick", device="cpu", progress=True, notebook=False)
    folder = fake / "fake"
    (folder / "figures" / "old_only.png").write_bytes(b"stale")
    (folder / "checkpoint.safetensors").write_bytes(b"kept")  # artifacts a resume needs stay
    capsys.readouterr()
    runner.run_section("fake", fake, profile="default", device="cpu", progress=True, notebook=False)
    assert "cleared the previous run's outputs" in capsys.readouterr().err
    assert not (folder / "figures" / "old_only.png").exists()
    assert (folder / "checkpoint.safetensors").read_bytes() == b"kept"
    assert json.loads((folder / "metrics.json").read_text())["loss"] == pytest.approx(1.5)


def test_a_refused_check_leaves_the_previous_run_untouched(fake, capsys):
    runner.run_section("fake", fake, profile="quick", device="cpu", progress=False, notebook=False)
    folder = fake / "fake"
    before = {p.name: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    status = main(["run", "fake", "--fake-n", "7", "--out", str(fake), "--no-notebook"])
    assert status == 2 and "found n = 7" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before
