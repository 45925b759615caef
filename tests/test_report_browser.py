"""The report in a real browser: headless Chromium (Debian's package) driven by Playwright.

Checks what a reader meets: the summary is on the first screen, every image loads, every
contents link lands on its section, and the page logs no console error. Skipped, with the
reason, where Chromium or Playwright is not installed (``bash scripts/setup.sh --tests``
installs both).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from rnnlab import sections
from rnnlab.report import build_report
from rnnlab.results import write_json

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on PATH (apt-get install chromium)")

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def png(path, seed):
    from PIL import Image

    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (240, 640, 3), dtype=np.uint8)).save(path)


def section(root, name, limitations=()):
    folder = root / name
    (folder / "figures").mkdir(parents=True)
    figures = []
    for i in range(3):
        png(folder / "figures" / f"f{i}.png", i)
        figures.append({"path": f"figures/f{i}.png", "caption": f"Figure {i} of {name}"})
    observations = [f"{name} sentence {i}." for i in range(6)]
    data = {
        "name": name, "title": f"Section {name}", "config": {"seed": 0}, "metrics": {"loss": 1.5},
        "observations": observations, "figures": figures,
        "tables": [{"title": "Numbers", "columns": ["model", "loss"], "rows": [["RNN", 1.5]]}],
        "text_blocks": {"samples": "text"},
        "topics": [
            {"key": "first", "title": "First topic", "observations": observations[:3],
             "figures": ["figures/f0.png"], "tables": ["Numbers"], "text_blocks": []},
            {"key": "second", "title": "Second topic", "observations": observations[3:],
             "figures": ["figures/f1.png", "figures/f2.png"], "tables": [], "text_blocks": ["samples"]},
        ],
        "findings": [{"text": f"{name} finding {i}.", "topic": "second" if i else "first"} for i in range(3)],
        "limitations": list(limitations),
        "settings": {"profile": "quick", "seed": 0, "device": "cpu", "wall_time_s": 12.5, "config": {}},
    }
    write_json(folder / "metrics.json", data["metrics"])
    write_json(folder / "section.json", data)


@pytest.fixture
def report(tmp_path, monkeypatch):
    monkeypatch.setattr(sections, "SECTIONS", {"q1": "x", "q2": "x", "q3": "x", "exercises": "x"})
    root = tmp_path / "results"
    section(root, "q1")
    section(root, "q2", limitations=["IMDb skipped: no aclImdb folder"])
    section(root, "q3")
    (root / "q3" / "section.json").write_text("{not json")  # unreadable
    return build_report(root)


def test_report_in_chromium(report, tmp_path):
    errors: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(report.as_uri())
        page.wait_for_load_state("load")
        # The first screen shows the summary with its findings.
        shot = tmp_path / "top.png"
        page.screenshot(path=str(shot))
        assert shot.stat().st_size > 10_000
        box = page.locator("#summary").bounding_box()
        assert box is not None and box["y"] < 300, box  # right under the title, before the contents
        assert page.evaluate("document.getElementById('summary').compareDocumentPosition("
                             "document.getElementById('contents')) & Node.DOCUMENT_POSITION_FOLLOWING")
        assert page.locator("#summary .findings li").count() == 6
        # Every image loads (lazy images included, once scrolled into view).
        images = page.locator("img")
        assert images.count() == 6
        for i in range(images.count()):
            images.nth(i).scroll_into_view_if_needed()
            page.wait_for_function("img => img.complete", arg=images.nth(i).element_handle())
            assert images.nth(i).evaluate("img => img.naturalWidth") == 640
        # Every contents link lands on its target, at the top of the window.
        links = page.locator("nav.toc a")
        targets = [links.nth(i).get_attribute("href") for i in range(links.count())]
        assert "#sec-q1" in targets and "#q2-second" in targets and "#sec-exercises" in targets
        for href in targets:
            page.locator(f'nav.toc a[href="{href}"]').click()
            top, at_end = page.evaluate(
                """id => [document.getElementById(id).getBoundingClientRect().top,
                          window.scrollY + window.innerHeight >= document.documentElement.scrollHeight - 2]""",
                href[1:])
            # at the top of the window, or on screen when the page cannot scroll further
            assert abs(top) < 5 or (at_end and 0 <= top < 900), (href, top)
        browser.close()
    assert errors == [], errors
    html = report.read_text()
    assert "done, limited" in html and "unreadable" in html and "not run" in html
    assert json.loads((report.parent / "q1" / "section.json").read_text())["name"] == "q1"
