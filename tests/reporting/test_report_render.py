"""End-to-end rendering: report.html is self-contained with decodable PNGs, report.md points at real PNG files."""

from __future__ import annotations

import base64
import json
import re
import struct
from html.parser import HTMLParser
from pathlib import Path

import pytest
from report_fixtures import write_run_dir

from rapidun.reporting import render_report
from rapidun.reporting.render import FIGURES_DIR, ReportPaths
from rapidun.reporting.tables import COLUMNS

PNG_SIG = b"\x89PNG\r\n\x1a\n"


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.imgs: list[dict[str, str | None]] = []
        self.external: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "img":
            self.imgs.append(a)
        for key in ("src", "href"):
            if a.get(key) and not str(a[key]).startswith("data:"):
                self.external.append(f"{tag} {key}={a[key]}")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIG, "not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def html_images(path: Path) -> tuple[list[bytes], _Collector]:
    parser = _Collector()
    parser.feed(path.read_text(encoding="utf-8"))
    images = []
    for img in parser.imgs:
        src = img.get("src") or ""
        m = re.fullmatch(r"data:image/png;base64,([A-Za-z0-9+/=]+)", src)
        assert m, f"img src is not an inline PNG data URI: {src[:60]}"
        images.append(base64.b64decode(m.group(1), validate=True))
    return images, parser


def md_images(path: Path) -> list[bytes]:
    refs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", path.read_text(encoding="utf-8"))
    out = []
    for ref in refs:
        p = path.parent / ref
        assert p.is_file(), f"report.md references missing image {ref}"
        out.append(p.read_bytes())
    return out


@pytest.fixture(scope="module")
def full_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ReportPaths]:
    run = write_run_dir(tmp_path_factory.mktemp("full") / "run")
    return run, render_report([run], run)


def test_html_is_self_contained_and_every_image_decodes(full_report: tuple[Path, ReportPaths]) -> None:
    _, paths = full_report
    images, parser = html_images(paths.html)
    assert len(images) == 4  # weights, ASR per trigger, ASR vs PPL, timings
    for data in images:
        w, h = png_size(data)
        assert len(data) > 1024 and w >= 300 and h >= 200
    assert parser.external == [], "the HTML must not reference external files"


def test_markdown_references_the_same_pngs(full_report: tuple[Path, ReportPaths]) -> None:
    _, paths = full_report
    md = md_images(paths.markdown)
    html, _ = html_images(paths.html)
    assert md == html  # same figures, same order, byte for byte
    assert sorted(p.name for p in paths.figures) == sorted(p.name for p in (paths.html.parent / FIGURES_DIR).iterdir())
    for data in md:
        assert data.startswith(PNG_SIG) and len(data) > 1024


def test_header_and_directions_are_stated(full_report: tuple[Path, ReportPaths]) -> None:
    _, paths = full_report
    _, parser = html_images(paths.html)
    text = " ".join(parser.text)
    md = paths.markdown.read_text(encoding="utf-8")
    for needle in ("2.13.0", "abc1234", "test-cpu", "0, 1, 2", "rapidun demo --out X", "keywords(threshold=1)"):
        assert needle in text and needle in md
    for col in COLUMNS:
        assert f"{col.title}" in md and f"{col.better} is better" in md
        assert col.title in text
    assert "lower is better" in text and "higher is better" in text
    assert "sample standard deviation (ddof = 1)" in md
    for method in ("backdoored", "retrain", "rapidun", "ga", "uniform", "loreun"):
        assert f"| {method} | 3 |" in md


def test_report_numbers_come_from_results_json(full_report: tuple[Path, ReportPaths]) -> None:
    run, paths = full_report
    results = json.loads((run / "results.json").read_text())
    r = next(x for x in results["runs"] if x["method"] == "rapidun" and x["seed"] == 1)
    md = paths.markdown.read_text(encoding="utf-8")
    # The per-run table shows the stored seen ASR (percent, 1 decimal by magnitude) and its sample count.
    assert f"{100 * r['metrics']['asr_seen']:.1f}" in md
    assert f"| {r['timings']['total_s']:,.2f} |" in md


def test_missing_optional_fields_render_with_notes(tmp_path: Path) -> None:
    run = write_run_dir(tmp_path / "bare", seeds=(0,), full=False)
    paths = render_report([run], tmp_path / "out")
    images, _ = html_images(paths.html)
    assert len(images) == 1  # only ASR vs PPL has its data (headline metrics)
    md = paths.markdown.read_text(encoding="utf-8")
    # weights, ASR per variant, timings; examples, loss curves, weights by family (no study cells beside it)
    assert md.count("> **Note:**") == 6
    assert "kept example generations" in md and "per-step losses" in md and "no pack found" in md
    assert "no run of this dataset records a weights_dir" in md
    assert "n/a" in md
    assert md_images(paths.markdown) == images


def test_broken_weights_file_is_a_note_not_a_crash(tmp_path: Path) -> None:
    run = write_run_dir(tmp_path / "run", seeds=(0,))
    bad = next((run / "weights").rglob("forget_weights.jsonl"))
    bad.write_text('{"index": 0, "weight": 1.0}\nnot json\n')
    paths = render_report([run], run)
    md = paths.markdown.read_text(encoding="utf-8")
    assert "forget_weights.jsonl:2" in md
    assert len(html_images(paths.html)[0]) == 4


def test_rerender_is_deterministic_and_drops_stale_figures(tmp_path: Path) -> None:
    run = write_run_dir(tmp_path / "run", seeds=(0,))
    first = render_report([run], run)
    stale = run / FIGURES_DIR / "old.png"
    stale.write_bytes(b"x")
    second = render_report([run], run)
    assert not stale.exists()
    assert [p.read_bytes() for p in first.figures] == [p.read_bytes() for p in second.figures]
    assert first.html.read_text() == second.html.read_text()


def test_several_runs_get_a_comparison(tmp_path: Path) -> None:
    a = write_run_dir(tmp_path / "a" / "run", seeds=(0,), full=False)
    b = write_run_dir(tmp_path / "b" / "run", seeds=(0,), full=False, datasets=("alpaca",))
    paths = render_report([a, b], tmp_path / "cmp")
    md = paths.markdown.read_text(encoding="utf-8")
    assert "## Comparison of runs" in md
    assert "| a/run |" in md and "| b/run |" in md
    assert "## Run 1: a/run" in md and "## Run 2: b/run" in md
    assert len(md_images(paths.markdown)) == 2  # bare runs: only ASR vs PPL has data, once per run
    assert len({p.name for p in paths.figures}) == 2


def test_colliding_dataset_names_get_distinct_figures(tmp_path: Path) -> None:
    run = write_run_dir(tmp_path / "run", seeds=(0,), full=False, datasets=("a b", "a-b"))
    paths = render_report([run], run)
    assert len(paths.figures) == 2 and len({p.name for p in paths.figures}) == 2
    assert md_images(paths.markdown) == html_images(paths.html)[0]


def test_results_without_runs_renders_a_note(tmp_path: Path) -> None:
    (tmp_path / "results.json").write_text(json.dumps({"header": {}, "runs": []}))
    paths = render_report([tmp_path], tmp_path)
    assert "lists no runs" in paths.markdown.read_text(encoding="utf-8")
    assert html_images(paths.html)[0] == []
