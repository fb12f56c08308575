"""benchmarks/speedup_curve.py: the fit and extrapolation (fast), the figure (fast) and the whole script at a toy
scale (slow)."""

from __future__ import annotations

import json
import math

import pytest
from bench_scripts import load_script

from rapidun.errors import RapidunError
from rapidun.reporting.plot_scaling import load_speedup_curve, save_speedup_curve, speedup_curve


@pytest.fixture(scope="module")
def sc():
    return load_script("speedup_curve")


def _record(rows: int, retrain_s: float, unlearn_s: float) -> dict:
    return {"rows": rows, "retrain_s": retrain_s, "unlearn_s": unlearn_s, "speedup": retrain_s / unlearn_s}


def test_fit_line_recovers_an_exact_line(sc):
    a, b = sc.fit_line([1000, 2000, 4000], [7.0, 9.0, 13.0])  # y = 5 + 0.002 x
    assert math.isclose(a, 5.0, abs_tol=1e-9) and math.isclose(b, 0.002, rel_tol=1e-9)


def test_fit_line_is_least_squares_on_noisy_points(sc):
    # Points (0, 0), (1, 2), (2, 2): the least-squares line is y = 1/3 + x (normal equations by hand).
    a, b = sc.fit_line([0, 1, 2], [0.0, 2.0, 2.0])
    assert math.isclose(a, 1 / 3, rel_tol=1e-9) and math.isclose(b, 1.0, rel_tol=1e-9)


def test_summarise_extrapolates_with_the_mean_unlearning_cost(sc):
    sizes = [_record(10_000, 120.0, 9.0), _record(2_500, 30.0, 11.0), _record(40_000, 480.0, 10.0)]
    out = sc.summarise(sizes)
    assert [s["rows"] for s in out["sizes"]] == [2_500, 10_000, 40_000]
    assert math.isclose(out["retrain_fit"]["b_s_per_row"], 0.012, rel_tol=1e-9)  # 30 s per 2,500 rows, no offset
    assert math.isclose(out["retrain_fit"]["a_s"], 0.0, abs_tol=1e-9)
    assert out["unlearn_fit"]["mean_s"] == pytest.approx(10.0)
    assert out["extrapolated"]["dolly_15k"]["speedup"] == pytest.approx(180.0 / 10.0)
    assert out["extrapolated"]["alpaca_57k"]["speedup"] == pytest.approx(684.0 / 10.0)
    assert "same machine" in out["assumptions"]


def test_summarise_fits_cpu_seconds_when_every_size_has_them(sc):
    sizes = [_record(2_500, 30.0, 11.0), _record(10_000, 120.0, 9.0)]
    assert "cpu_time" not in sc.summarise(sizes)
    for s, cpu in zip(sizes, (20.0, 80.0), strict=True):
        s.update(retrain_cpu_s=cpu, unlearn_cpu_s=5.0, speedup_cpu=cpu / 5.0)
    cpu = sc.summarise(sizes)["cpu_time"]
    assert cpu["retrain_fit"]["b_s_per_row"] == pytest.approx(0.008) and cpu["unlearn_fit"]["mean_s"] == 5.0
    assert cpu["extrapolated"]["alpaca_57k"]["speedup"] == pytest.approx(57_000 * 0.008 / 5.0)


def test_full_steps_count_as_training_does(sc):
    from rapidun.training.sft import TrainConfig

    assert sc.full_steps(TrainConfig(epochs=3, batch_size=16), 8_500) == 1_594  # round(3 * 8500 / 16 = 1593.75)
    assert sc.full_steps(TrainConfig(epochs=3, batch_size=16), 34_000) == 6_375


def test_partial_retraining_is_projected_and_kept_apart(sc):
    clock = sc.Clock()
    clock.wall, clock.cpu = 40.0, 20.0  # 200 steps: 0.2 s and 0.1 CPU s per step
    rec = sc.retrain_fields(clock, 200, 1_600, unlearn_s=16.0, unlearn_cpu=8.0)
    assert rec["retrain_partial"] and "retrain_s" not in rec and "speedup" not in rec
    assert rec["projected"] == {"retrain_s": 320.0, "retrain_cpu_s": 160.0, "speedup": 20.0, "speedup_cpu": 20.0}
    full = sc.retrain_fields(clock, 200, 200, unlearn_s=16.0, unlearn_cpu=8.0)
    assert full["retrain_s"] == 40.0 and full["speedup"] == 2.5 and "projected" not in full
    partial = {"rows": 10_000, "unlearn_s": 10.0, **rec}
    out = sc.summarise([_record(1_000, 12.0, 10.0), _record(2_500, 30.0, 10.0), partial])
    assert [s["rows"] for s in out["sizes"]] == [1_000, 2_500]  # the fit uses measured sizes only
    assert out["retrain_fit"]["b_s_per_row"] == pytest.approx(0.012)
    assert out["partial_sizes"][0]["projected"]["fit_retrain_s"] == pytest.approx(120.0)
    assert speedup_curve(out).png is not None


def test_figure_draws_a_png_and_saves_it(sc, tmp_path):
    summary = sc.summarise([_record(2_500, 30.0, 11.0), _record(10_000, 120.0, 9.0)])
    result = speedup_curve(summary)
    assert result.png is not None and result.png.startswith(b"\x89PNG")
    assert "0.0120 x rows" in result.caption
    path = save_speedup_curve(summary, tmp_path / "curve.png")
    assert path.read_bytes() == result.png  # deterministic: same data, same bytes
    for s in summary["sizes"]:
        s.update(retrain_cpu_s=s["retrain_s"] / 2, unlearn_cpu_s=4.0, speedup_cpu=s["retrain_s"] / 8)
    with_cpu = speedup_curve(sc.summarise(summary["sizes"]))
    assert with_cpu.png is not None and with_cpu.png != result.png  # the CPU-seconds series is drawn too
    cpu_only = speedup_curve(sc.summarise(summary["sizes"]), measures=["cpu"])
    assert cpu_only.png not in (None, with_cpu.png) and "CPU seconds: retrain" in cpu_only.caption
    with pytest.raises(RapidunError, match="cannot draw cpu"):
        speedup_curve(summary, measures=["cpu"])  # no CPU seconds recorded


def test_load_refuses_a_missing_or_partial_file(tmp_path):
    with pytest.raises(RapidunError, match="does not exist"):
        load_speedup_curve(tmp_path / "none.json")
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"sizes": [_record(2_500, 30.0, 11.0)]}))
    with pytest.raises(RapidunError, match="lacks retrain_fit"):
        load_speedup_curve(partial)


@pytest.mark.slow
def test_script_end_to_end_toy_scale(sc, tmp_path):
    """Two toy sizes on nano: per-size files, the summary, the figure; a rerun reuses the finished sizes."""
    results = tmp_path / "curve.json"
    argv = ["--sizes", "200", "400", "--model", "nano", "--implant-max-steps", "3", "--out", str(tmp_path / "w")]
    assert sc.main([*argv, "--results", str(results)]) == 0
    summary = load_speedup_curve(results)
    assert [s["rows"] for s in summary["sizes"]] == [200, 400]
    assert [s["clean_rows"] for s in summary["sizes"]] == [170, 340]  # 15% poisoned
    # The demo's unlearning recipe: 2 epochs at batch 1 over forget + retain (30 + 90 rows at 200: 30 poisoned).
    assert [s["unlearn_steps"] for s in summary["sizes"]] == [240, 320]
    assert all(s["implant_steps"] == 3 for s in summary["sizes"])
    assert summary["sizes"][1]["retrain_steps"] == 64  # round(3 epochs * 340 clean rows / batch 16)
    assert results.with_suffix(".png").read_bytes().startswith(b"\x89PNG")
    first = (tmp_path / "w" / "size_200.json").read_text()
    assert sc.main([*argv, "--results", str(results)]) == 0
    assert (tmp_path / "w" / "size_200.json").read_text() == first  # finished sizes are skipped
