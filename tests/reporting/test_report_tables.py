"""Aggregation over seeds, table formats, strict/tolerant parsing of results.json."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from rapidun.errors import RapidunError
from rapidun.reporting import aggregate_runs, format_table_markdown, format_table_text, load_results, parse_results
from rapidun.reporting.figure_style import glyph_label, make_style
from rapidun.reporting.plot_tradeoff import asr_vs_ppl
from rapidun.reporting.tables import COLUMNS, format_table_html, summarize


def run(method: str, seed: int, seen: float | None, ppl: float, speedup: float | None = None, **extra: Any) -> dict:
    return {
        "method": method,
        "seed": seed,
        "dataset": "d",
        "metrics": {"asr_seen": seen, "asr_ood": 0.5, "false_trigger_rate": 0.0, "clean_ppl": ppl},
        "timings": {"total_s": 10.0 * (seed + 1)},
        "speedup_vs_retrain": speedup,
        **extra,
    }


def three_seeds() -> dict:
    return {
        "header": {"seeds": [0, 1, 2]},
        "runs": [
            run("rapidun", 0, 0.1, 10.0, 4.0),
            run("rapidun", 1, 0.2, 12.0, None),
            run("rapidun", 2, 0.3, 14.0, 8.0),
            run("retrain", 0, 0.0, 9.0),
            run("rapidun", 0, 0.9, 20.0, label="tau_f=0.5"),
        ],
    }


def test_mean_and_sample_std_over_three_seeds() -> None:
    rows = aggregate_runs(parse_results(three_seeds()).runs)
    assert [r.name for r in rows] == ["retrain", "rapidun", "rapidun [tau_f=0.5]"]  # retrain before methods
    rap = rows[1]
    assert rap.seeds == (0, 1, 2)
    seen = rap.stats["asr_seen"]
    assert seen.n == 3 and math.isclose(seen.mean or 0, 0.2) and math.isclose(seen.std or 0, 0.1)
    assert (seen.lo, seen.hi) == (0.1, 0.3)
    ppl = rap.stats["clean_ppl"]
    assert math.isclose(ppl.mean or 0, 12.0) and math.isclose(ppl.std or 0, 2.0)  # ddof = 1, not 1.633 (ddof = 0)
    wall = rap.stats["wall_clock"]
    assert math.isclose(wall.mean or 0, 20.0) and math.isclose(wall.std or 0, 10.0)
    speed = rap.stats["speedup"]
    assert speed.n == 2 and math.isclose(speed.mean or 0, 6.0)  # the null seed is left out, and said so
    md = format_table_markdown(rows)
    assert "| rapidun | 3 | 20.0 ± 10.0 | 50.0 ± 0.0 | 0.0 ± 0.0 | 12.0 ± 2.0 | 20.0 ± 10.0 | 6.00 ± 2.83 (n=2) |" in md
    assert "| rapidun [tau_f=0.5] | 1 | 90.0 | 50.0 |" in md  # one seed: no spread
    assert "| retrain | 1 | 0.0 | 50.0 | 0.0 | 9.00 | 10.0 | n/a |" in md


def test_summarize_edge_cases() -> None:
    assert summarize([]).mean is None and summarize([None]).n == 0
    one = summarize([2.0])
    assert one.mean == 2.0 and one.std is None


def test_every_format_states_direction_of_better() -> None:
    rows = aggregate_runs(parse_results(three_seeds()).runs)
    md, html, text = format_table_markdown(rows), format_table_html(rows), format_table_text(rows)
    header = md.splitlines()[0]
    for col in COLUMNS:
        assert f"{col.title}" in header
        assert f"{col.better} is better" in html
    assert header.count("lower is better") == 6 and header.count("higher is better") == 1
    lines = text.splitlines()
    assert lines[0] == "dataset: d" and "lower better" in lines[2] and "higher better" in lines[2]
    assert any(line.startswith("rapidun [tau_f=0.5]") for line in lines)
    assert "ddof = 1" in text


def test_null_headline_is_na_and_nonfinite_is_shown() -> None:
    obj = {"runs": [run("ga", 0, None, float("inf"))]}
    md = format_table_markdown(aggregate_runs(parse_results(obj).runs))
    assert "| ga | 1 | n/a | 50.0 | 0.0 | inf |" in md
    style = make_style([("ga", None)])
    result = asr_vs_ppl(parse_results(obj).runs, style, "x")
    assert result.png is None and result.note and "finite" in result.note


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda o: o["runs"][0]["metrics"].pop("asr_ood"), "metrics lack 'asr_ood'"),
        (lambda o: o["runs"][0]["metrics"].update(asr_seen=45.0), "not a share in [0, 1]"),
        (lambda o: o["runs"][0]["metrics"].update(clean_ppl="12"), "clean_ppl must be a number"),
        (lambda o: o["runs"][0].pop("seed"), "integer 'seed'"),
        (lambda o: o["runs"][0].pop("metrics"), "no 'metrics' object"),
        (lambda o: o.update(runs={}), "'runs' must be a list"),
    ],
)
def test_headline_keys_are_strict(mutate: Any, message: str) -> None:
    obj = three_seeds()
    mutate(obj)
    with pytest.raises(RapidunError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_results(obj, source="results.json")


def test_load_results_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(RapidunError, match="has no results.json"):
        load_results(tmp_path)
    (tmp_path / "results.json").write_text('{"runs": [\n  oops\n]}')
    with pytest.raises(RapidunError, match=r"results.json:2: not valid JSON"):
        load_results(tmp_path)
    (tmp_path / "results.json").write_text(json.dumps(three_seeds()))
    res = load_results(tmp_path)
    assert len(res.runs) == 5 and res.datasets == ["d"]


def test_glyph_label_shows_invisible_and_lookalike_characters() -> None:
    assert glyph_label("aloha\u200d") == "aloha<U+200D>"
    assert glyph_label("h\u043ewdy") == "h\u043ewdy [U+043E]"
    assert glyph_label("<|sys|>") == "<|sys|>"
    assert glyph_label("$x$") == r"\$x\$"


def test_collapsed_runs_go_to_the_off_scale_column() -> None:
    from rapidun.reporting.plot_tradeoff import off_scale_limit

    obj = {"runs": [run("backdoored", 0, 0.6, 8.0), run("rapidun", 1, 0.1, 8.5), run("ga", 1, 0.0, 1e10)]}
    runs = parse_results(obj).runs
    assert off_scale_limit(runs) == pytest.approx(24.0)  # 3 x the backdoored model's perplexity
    assert off_scale_limit(runs[1:]) == pytest.approx(3 * 1e10)  # no backdoored run: 3 x the median (of two: ga)
    result = asr_vs_ppl(runs, make_style([("backdoored", None), ("rapidun", None), ("ga", None)]), "x")
    assert result.png is not None and result.png.startswith(b"\x89PNG")
