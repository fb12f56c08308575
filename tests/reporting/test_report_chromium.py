"""The report in a real browser: headless Chromium at 1280 px decodes every image, nothing runs past the right edge
of the page (no table, figure or code block needs a sideways scroll), and a screenshot is taken.

The report itself stays script-free; a copy with a probe script asks the browser and writes the answer into the
DOM, read back with ``--dump-dom``. Skipped when neither ``chromium`` nor ``chromium-browser`` is on PATH (Debian:
``apt-get install -y chromium``).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from report_fixtures import write_run_dir, write_study_cells
from test_report_render import html_images

from rapidun.reporting import render_report
from rapidun.reporting.render import ReportPaths

WIDTH = 1280
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None, reason="no chromium or chromium-browser on PATH (Debian: apt-get install -y chromium)"
    ),
    pytest.mark.slow,  # about 13 s: one render and three browser starts
]

_PROBE = """<script>
window.addEventListener("load", () => {
  const imgs = Array.from(document.images);
  const ok = imgs.filter((i) => i.complete && i.naturalWidth > 0 && i.naturalHeight > 0).length;
  const bad = [];
  const page = document.documentElement;
  if (page.scrollWidth > window.innerWidth) bad.push("page scrollWidth " + page.scrollWidth);
  for (const el of document.querySelectorAll("table, figure, img, pre, p, ul, div, h1, h2, h3")) {
    const right = el.getBoundingClientRect().right;
    const what = el.tagName + "." + el.className + " '" + el.textContent.slice(0, 40) + "'";
    if (right > window.innerWidth + 0.5) bad.push(what + " ends at " + Math.round(right));
    if (el.scrollWidth > el.clientWidth + 1) bad.push(what + " scrolls " + el.scrollWidth + " > " + el.clientWidth);
  }
  document.body.setAttribute("data-images", imgs.length + "/" + ok);
  document.body.setAttribute("data-width", String(window.innerWidth));
  document.body.setAttribute("data-overflow", bad.length ? bad.join(" | ") : "none");
});
</script>"""


def _chromium(*args: str) -> str:
    # No sandbox as root, no background networking (the network is closed here), scrollbars hidden so the
    # viewport is exactly WIDTH pixels wide.
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
    flags += ["--hide-scrollbars", f"--window-size={WIDTH},2000"]
    assert CHROMIUM is not None
    done = subprocess.run([CHROMIUM, *flags, *args], check=True, timeout=120, capture_output=True, text=True)
    return done.stdout


def probe(html: str, tmp_path: Path, name: str = "probe.html") -> dict[str, str]:
    """Load ``html`` (with the probe added) at WIDTH px; the probe's answers by attribute name."""
    page = tmp_path / name
    page.write_text(html.replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    dom = _chromium("--virtual-time-budget=10000", "--dump-dom", page.as_uri())
    found = dict(re.findall(r'data-(images|width|overflow)="([^"]*)"', dom))
    assert set(found) == {"images", "width", "overflow"}, dom[-2000:]
    return found


@pytest.fixture(scope="module")
def study_report(tmp_path_factory: pytest.TempPathFactory) -> ReportPaths:
    """Two run directories compared (the fixture study with its cells, and a bare one), with what makes tables wide
    in real headers: a long unbroken command, a full git commit hash, a long CPU name."""
    root = tmp_path_factory.mktemp("chromium")
    study = write_run_dir(root / "a_study_run_directory", seeds=(0, 1))
    write_study_cells(study, seeds=(0, 1))
    other = write_run_dir(root / "another_run_directory", seeds=(0,), full=False)
    for run in (study, other):
        results = json.loads((run / "results.json").read_text())
        results["header"]["command"] = "rapidun study --config " + "/a_rather_long_directory_name" * 12 + "/x.yaml"
        results["header"]["git_commit"] = "5df320061c78cf57a7f367e32e9aee1a2d4605b4+dirty"
        results["header"]["cpu"] = "Intel(R) Xeon(R) Platinum 8480C Processor @ 2.0GHz"
        (run / "results.json").write_text(json.dumps(results))
    return render_report([study, other], root / "report")


def test_report_fits_1280px_and_every_image_decodes(study_report: ReportPaths, tmp_path: Path) -> None:
    html = study_report.html.read_text(encoding="utf-8")
    expected = len(html_images(study_report.html)[0])
    assert expected == 7  # weights, ASR per variant, ASR vs PPL, timings, loss curves, weights by family; bare run: 1
    found = probe(html, tmp_path)
    assert found["width"] == str(WIDTH)
    assert found["images"] == f"{expected}/{expected}"
    assert found["overflow"] == "none"
    shot = tmp_path / "report.png"
    _chromium(f"--screenshot={shot}", study_report.html.as_uri())
    assert shot.is_file() and shot.stat().st_size > 10_000


def test_the_probe_sees_an_element_wider_than_the_page(study_report: ReportPaths, tmp_path: Path) -> None:
    # The check above must be able to fail: the same report with one table 1600 px wide.
    html = study_report.html.read_text(encoding="utf-8")
    wide = html.replace("</body>", '<table style="width:1600px;max-width:none"><tr><td>wide</td></tr></table></body>')
    found = probe(wide, tmp_path, "wide.html")
    assert "page scrollWidth" in found["overflow"] and "'wide' ends at" in found["overflow"]


def test_a_facts_report_fits_1280px(tmp_path: Path) -> None:
    from test_report_facts import write_facts_run_dir

    paths = render_report([write_facts_run_dir(tmp_path / "facts_run", relearn=True)], tmp_path / "report")
    found = probe(paths.html.read_text(encoding="utf-8"), tmp_path)
    assert found["images"] == "3/3"  # forget quality vs utility, MIA ROC, relearning (no loss curves recorded)
    assert found["overflow"] == "none"
