"""The HTML report and the notebook display helpers, from hand-written results folders."""

from __future__ import annotations

import json
import re
import struct
import zlib

import pytest

from rnnlab import sections
from rnnlab.cli import main
from rnnlab.experiments import registry, runner
from rnnlab.experiments.base import Figure, SectionResult, Table
from rnnlab.report import build_report
from rnnlab.report import display as show


def tiny_png(shade: int) -> bytes:
    """A valid 2x2 grey PNG of the given shade, made without matplotlib."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    raw = b"".join(b"\x00" + bytes([shade, shade]) for _ in range(2))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def make_result() -> SectionResult:
    return SectionResult(
        name="alpha",
        title="Alpha & <Omega>",
        config={"hidden_size": 32, "seeds": [0, 1, 2], "text": "a<b>.txt"},
        metrics={
            "final_loss": {"RNN": 1.25, "LSTM": 0.75},
            "curve": list(range(50)),
            "data": {"text": "fortunes <min>", "characters": 12345},
        },
        observations=["LSTM beats RNN by 0.50 <nats> & more.", "The gap is 3 'spreads'."],
        figures=[
            Figure("figures/loss.png", "Loss <curves> & spread"),
            Figure("figures/grad.png", 'Gradient "norms"'),
            Figure("figures/gone.png", "A figure whose file is missing"),
        ],
        tables=[
            Table(
                "Final <loss>", ["model", "loss", "ok"], [["RNN", 1.25, True], ["LSTM", 0.75, None]]
            )
        ],
        text_blocks={"sampled <text>": "the quick <script>alert(1)</script> fox"},
    )


def write_section(out_root, result: SectionResult) -> None:
    folder = out_root / result.name
    (folder / "figures").mkdir(parents=True)
    (folder / "figures" / "loss.png").write_bytes(tiny_png(10))
    (folder / "figures" / "grad.png").write_bytes(tiny_png(200))
    data = result.to_dict()
    data["settings"] = {
        "profile": "quick",
        "seed": 7,
        "device": "cpu",
        "device_name": "x86_64",
        "options": {},
        "config": result.config,
        "wall_time_s": 75.5,
        "started_at": "2025-01-01T10:00:00+00:00",
        "python": "3.11.7",
        "numpy": "1.26.4",
        "torch": "2.14.1",
        "torch_threads": 2,
        "cpu_count": 2,
        "platform": "Linux",
        "rnnlab": "0.1.0",
        "command": "rnnlab run alpha",
        "notebook": {"file": "alpha.ipynb", "source": "notebooks/alpha.py", "wall_time_s": 4.0},
    }
    runner.write_json(folder / "section.json", data)


@pytest.fixture
def results(tmp_path, monkeypatch):
    fake_sections = {"alpha": "no_such_module_alpha", "beta": "no_such_module_beta"}
    monkeypatch.setattr(registry, "SECTIONS", fake_sections)
    monkeypatch.setattr(sections, "SECTIONS", fake_sections)
    out_root = tmp_path / "results"
    write_section(out_root, make_result())
    return out_root


def test_report_links_figures_and_escapes_every_text(results):
    path = build_report(results)
    assert path == results / "index.html"
    page = path.read_text()
    # Figures are the files beside the page, linked to their full size; every text escaped.
    for name in ("loss.png", "grad.png"):
        assert f'<a href="alpha/figures/{name}"><img src="alpha/figures/{name}"' in page
    assert "data:image" not in page
    assert "Figure file missing: figures/gone.png" in page
    assert "Figure 1. Loss &lt;curves&gt; &amp; spread" in page
    assert "Figure 2. Gradient &#34;norms&#34;" in page
    assert "LSTM beats RNN by 0.50 &lt;nats&gt; &amp; more." in page
    assert "The gap is 3 &#39;spreads&#39;." in page
    assert "<caption>Final &lt;loss&gt;</caption>" in page
    assert '<td class="num">1.25</td>' in page and "<td>yes</td>" in page and "<td>—</td>" in page
    assert "<summary>sampled &lt;text&gt;</summary><pre>the quick &lt;script&gt;alert(1)&lt;/script&gt; fox</pre>" in page
    assert "<script" not in page and "<b>" not in page
    assert "a&lt;b&gt;.txt" in page  # config
    assert "<th>Seed</th><td>7</td>" in page and "<th>PyTorch</th><td>2.14.1</td>" in page
    assert "1 min 16 s" in page and "alpha/alpha.ipynb" in page
    assert "final_loss.LSTM" in page and "50 values, first 0, last 49" in page
    # Summary first, then contents links to every section; the section not run says so.
    assert page.index('id="summary"') < page.index('id="contents"') < page.index('id="sec-alpha"')
    assert 'href="#sec-alpha"' in page and 'id="sec-alpha"' in page and 'id="sec-beta"' in page
    assert "Not run: no results in" in page and "rnnlab run beta" in page
    # No external resources.
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "<link" not in page


def test_report_is_organised_by_topic_with_findings_and_status(results):
    path = results / "alpha" / "section.json"
    data = json.loads(path.read_text())
    data["topics"] = [{"key": "loss", "title": "Loss <curves>", "observations": [data["observations"][0]],
                       "figures": ["figures/loss.png"], "tables": [], "text_blocks": []}]
    data["findings"] = [{"text": "LSTM wins <by far>.", "topic": "loss"}, {"text": "Unlinked.", "topic": "nope"}]
    data["limitations"] = ["untrained CNN"]
    runner.write_json(path, data)
    page = build_report(results).read_text()
    assert '<article id="alpha-loss">' in page and '<article id="alpha-more">' in page
    assert page.index('id="alpha-loss"') < page.index('id="alpha-more"')
    assert 'LSTM wins &lt;by far&gt;. <a href="#alpha-loss">(details)</a>' in page
    assert "<li>Unlinked. </li>" in page
    assert "done, limited" in page and "Limitations: untrained CNN." in page
    # A folder with a run that never finished is "failed or interrupted", not "not run".
    (results / "beta").mkdir()
    (results / "beta" / "metrics.json").write_text("{}")
    assert "failed or interrupted" in build_report(results).read_text()


def test_report_survives_an_unreadable_section(results):
    (results / "beta").mkdir()
    (results / "beta" / "section.json").write_text("{ not json")
    page = build_report(results).read_text()
    assert "could not be read" in page and "expected valid JSON" in page


def test_report_command(results, tmp_path, capsys):
    assert main(["report", "--out", str(results)]) == 0
    assert str(results / "index.html") in capsys.readouterr().out
    assert main(["report", "--out", str(tmp_path / "missing")]) == 2
    assert "expected a results folder" in capsys.readouterr().err


def test_show_section_displays_everything(results, monkeypatch, capsys):
    shown = []
    monkeypatch.setattr(show, "_display", shown.append)
    result = runner.load_section(results / "alpha")
    (results / "alpha" / "figures" / "gone.png").write_bytes(tiny_png(90))
    show.show_section(result, out_dir=results / "alpha", config=True)
    kinds = [type(obj).__name__ for obj in shown]
    assert kinds.count("Image") == 3 and kinds.count("DataFrame") == 2
    markdown = [obj.data for obj in shown if type(obj).__name__ == "Markdown"]
    assert "- LSTM beats RNN by 0.50 \\<nats\\> & more.\n- The gap is 3 'spreads'." in markdown
    assert '*Figure 2. Gradient "norms"*' in markdown
    table = next(obj for obj in shown if type(obj).__name__ == "DataFrame")
    assert list(table.index) == ["RNN", "LSTM"] and table.loc["LSTM", "loss"] == 0.75
    assert "the quick <script>alert(1)</script> fox" in capsys.readouterr().out
    monkeypatch.setenv("RNNLAB_OUT", str(results))
    assert show.figure_path(result, "grad") == results / "alpha" / "figures" / "grad.png"
    with pytest.raises(Exception, match="unknown figure 'nope'"):
        show.show_figure(result, "nope")


@pytest.mark.parametrize(
    "settings",
    [["not", "an", "object"], {"wall_time_s": "NaN", "config": "x"}, {"wall_time_s": float("nan")}],
)
def test_report_survives_malformed_settings(results, settings, capsys):
    path = results / "alpha" / "section.json"
    data = json.loads(path.read_text())
    data["settings"] = settings
    runner.write_json(path, data)
    assert main(["report", "--out", str(results)]) == 0
    page = (results / "index.html").read_text()
    assert "sec-alpha" in page
