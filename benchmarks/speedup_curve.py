"""Speed-up of RapidUn over retraining as the training set grows (issue 12 item 6).

    nice -n 10 env OMP_NUM_THREADS=1 python benchmarks/speedup_curve.py \\
        [--sizes 2500 10000 40000] [--out /work/runs/scaling/speedup_curve]

For each size N (training rows of a synthetic backdoor pack: the demo's generator, poison rate and trigger families,
``configs/demo.yaml``), one fresh Python process runs, in this order and on one thread:
1. the pack (N training rows, 15% poisoned; 40 forget / 120 retain rows, the pack's defaults);
2. the backdoor implant (not timed): ``tiny`` trained from scratch with the demo's backdoor recipe (batch 16,
   lr 5e-3, 128 tokens) for ``--implant-max-steps`` optimiser steps (default 1,000 at every size: 6.4 epochs of
   2,500 rows, 0.4 of 40,000; 0 = the recipe's 3 epochs). The implant only provides a backdoored model to unlearn:
   the unlearning cost below depends on the model's shape and the 160 forget / retain rows, not on how long the
   model was trained, and a fixed step count keeps the untimed part of the run affordable at 40,000 rows;
3. the unlearning cost (timed): influence (the demo's settings) + weights + ``rapidun`` unlearning (the demo's
   recipe, 320 steps) on the 40 forget / 120 retain rows;
4. the retraining cost (timed): a fresh ``tiny`` trained on the pack's clean training rows with the full backdoor
   recipe (what a study's ``retrain`` reference does).
Speed-up = retraining seconds / unlearning seconds of the same process. ``--retrain-steps N`` stops the retraining
after N steps (for sizes whose full retraining does not fit the time at hand): that size's record is partial, its
retraining seconds and speed-up are projected (seconds per step x the recipe's step count) and kept apart from the
measured sizes, which alone make the fit. Each size writes ``OUT/size_<N>.json``
when it finishes; a rerun skips finished sizes (an interrupted size restarts; its implant is reused). Then the
script fits retrain seconds = a + b * rows (least squares, numpy), extrapolates the speed-up to 15,000 (Dolly) and
57,000 (Alpaca) rows and writes ``benchmarks/results/speedup_curve.json`` and ``speedup_curve.png``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TQDM_DISABLE", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SIZES = (2500, 10000, 40000)
# Training-set sizes of the paper's datasets, for the extrapolation.
TARGETS = {"dolly_15k": 15_000, "alpaca_57k": 57_000}
N_VAL, N_TEST = 100, 150
ASSUMPTIONS = (
    "retraining seconds grow as a + b * rows (fitted on the measured sizes); same recipe (3 epochs, batch 16, "
    "128-token limit), the same tokens per row as the synthetic rows, the same model (tiny) and the same machine "
    "and thread count; the unlearning cost is the mean of the measured sizes (it depends on the 40 forget / 120 "
    "retain rows only); real Dolly / Alpaca rows are longer than the synthetic ones, so real retraining costs more "
    "per row and the extrapolated speed-up is a lower bound under these assumptions"
)


def study_settings(rows: int, model: str, implant_max_steps: int) -> Any:
    """The demo's study configuration with a pack of ``rows`` training rows and only ``rapidun``."""
    from rapidun.pipeline.demo import demo_dict
    from rapidun.pipeline.study_config import study_config

    data = demo_dict(model=model)
    data["name"] = f"speedup-{rows}"
    spec = data["datasets"][0]
    data["datasets"] = [{**spec, "n_rows": rows + N_VAL + N_TEST, "n_val": N_VAL, "n_test": N_TEST}]
    data["methods"] = ["rapidun"]
    cfg = study_config(data)
    return cfg, replace(cfg, backdoor=replace(cfg.backdoor, max_steps=implant_max_steps))


class Clock:
    """Wall-clock and CPU seconds of a ``with`` block. On a shared machine the wall-clock of a one-thread process
    stretches with the other jobs' load; its CPU seconds do not, so the record keeps both."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def measure_size(rows: int, out: Path, model: str, implant_max_steps: int, retrain_steps: int = 0) -> dict[str, Any]:
    """Stages 1-4 of the module docstring for one size, in this process; returns the size's record. With
    ``retrain_steps`` > 0 the retraining stops after that many steps and the record is partial (see
    :func:`retrain_fields`)."""
    import torch

    from rapidun.influence.stage import compute_influence
    from rapidun.pipeline.datasets import clean_start_model, load_backdoored, prepare_dataset
    from rapidun.pipeline.study_config import method_params, unlearn_config
    from rapidun.unlearning import RetrainParams, unlearn

    cfg, implant_cfg = study_settings(rows, model, implant_max_steps)
    root = out / f"size_{rows}"
    started, load_start = datetime.now(UTC).isoformat(timespec="seconds"), os.getloadavg()
    state = prepare_dataset(implant_cfg.datasets[0], implant_cfg, root, progress=False)
    if len(state.pack.train) != rows:
        raise SystemExit(f"pack of size {rows} has {len(state.pack.train)} training rows")
    seed, forget, retain, clean = cfg.seeds[0], state.pack.forget, state.pack.retain, state.clean_train
    bd = load_backdoored(state)
    with Clock() as influence:
        compute_influence(bd.model, bd.tokenizer, forget, retain, root / "influence", progress=False,
                          cfg=cfg.influence, overwrite=True)  # fmt: skip
    with Clock() as unlearning:
        res = unlearn(bd.model, bd.tokenizer, forget, retain, root / "unlearn", method="rapidun",
                      params=method_params("rapidun", {}), train=unlearn_config(cfg.unlearn, seed),
                      influence_dir=root / "influence", overwrite=True, progress=False, source=cfg.model)  # fmt: skip
    start = clean_start_model(state, cfg, seed)
    recipe = replace(cfg.backdoor, seed=seed, max_steps=retrain_steps)  # max_steps 0: the recipe's 3 epochs
    with Clock() as retraining:
        ref = unlearn(start.model, start.tokenizer, forget, clean, root / "retrain", method="retrain",
                      params=RetrainParams(train=recipe),
                      train=unlearn_config(cfg.unlearn, seed), overwrite=True, progress=False,
                      source=cfg.model)  # fmt: skip
    unlearn_s, unlearn_cpu = influence.wall + unlearning.wall, influence.cpu + unlearning.cpu
    return {
        "rows": rows,
        "clean_rows": len(clean),
        "poisoned_rows": rows - len(clean),
        "forget_rows": len(forget),
        "retain_rows": len(retain),
        **retrain_fields(
            retraining, int(ref.run["steps"]), full_steps(cfg.backdoor, len(clean)), unlearn_s, unlearn_cpu
        ),
        "unlearn_s": unlearn_s,
        "unlearn_cpu_s": unlearn_cpu,
        "unlearn_parts_s": {"influence": influence.wall, "weights_and_training": unlearning.wall},
        "unlearn_steps": res.run.get("steps"),
        "implant_s": state.backdoor_run.get("wall_clock_s"),
        "implant_steps": state.backdoor_run.get("steps"),
        "process": {
            "pid": os.getpid(),
            "torch_threads": torch.get_num_threads(),
            "started": started,
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "loadavg_start": list(load_start),
            "loadavg_end": list(os.getloadavg()),
        },
    }


def full_steps(recipe: Any, clean_rows: int) -> int:
    """Optimiser steps of the full retraining recipe (as ``rapidun.training.sft.train_model`` counts them)."""
    return max(1, round(recipe.epochs * clean_rows / recipe.batch_size))


def retrain_fields(clock: Clock, steps: int, full: int, unlearn_s: float, unlearn_cpu: float) -> dict[str, Any]:
    """The retraining part of a size's record. A full retraining gives ``retrain_s`` and the speed-ups; a partial
    one (``steps < full``) gives them under ``projected`` instead: its seconds per step times the full step count
    (every step of the recipe is a batch of 16 rows cut at 128 tokens, so steps cost alike), never mixed with the
    measured ones."""
    per_step = {"retrain_s_per_step": clock.wall / steps, "retrain_cpu_s_per_step": clock.cpu / steps}
    base = {"retrain_steps": steps, "retrain_full_steps": full, **per_step}
    if steps >= full:
        values = {"retrain_s": clock.wall, "retrain_cpu_s": clock.cpu}
        return base | values | {"speedup": clock.wall / unlearn_s, "speedup_cpu": clock.cpu / unlearn_cpu}
    wall, cpu = per_step["retrain_s_per_step"] * full, per_step["retrain_cpu_s_per_step"] * full
    projected = {"retrain_s": wall, "retrain_cpu_s": cpu, "speedup": wall / unlearn_s, "speedup_cpu": cpu / unlearn_cpu}
    return base | {"retrain_partial": True, "projected": projected}


def fit_line(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares (a, b) of y = a + b * x (``numpy.linalg.lstsq``)."""
    design = np.column_stack([np.ones(len(xs)), np.asarray(xs, dtype=float)])
    (a, b), *_ = np.linalg.lstsq(design, np.asarray(ys, dtype=float), rcond=None)
    return float(a), float(b)


def curve(sizes: list[dict[str, Any]], retrain_key: str, unlearn_key: str) -> dict[str, Any]:
    """The retraining fit, the flat unlearning cost and the extrapolated speed-ups for one pair of columns."""
    rows = [s["rows"] for s in sizes]
    a, b = fit_line(rows, [s[retrain_key] for s in sizes])
    c, d = fit_line(rows, [s[unlearn_key] for s in sizes])
    unlearn_mean = float(np.mean([s[unlearn_key] for s in sizes]))
    extrapolated = {
        name: {"rows": n, "retrain_s": a + b * n, "unlearn_s": unlearn_mean, "speedup": (a + b * n) / unlearn_mean}
        for name, n in TARGETS.items()
    }
    return {
        "retrain_fit": {"a_s": a, "b_s_per_row": b, "model": "retrain_s = a + b * rows (numpy.linalg.lstsq)"},
        "unlearn_fit": {"a_s": c, "b_s_per_row": d, "mean_s": unlearn_mean},
        "extrapolated": extrapolated,
    }


def summarise(sizes: list[dict[str, Any]]) -> dict[str, Any]:
    """Wall-clock fit and extrapolation at the top level (what the figure draws); the same from CPU seconds under
    ``cpu_time`` when every size recorded them."""
    measured = sorted((s for s in sizes if not s.get("retrain_partial")), key=lambda s: s["rows"])
    partial = sorted((s for s in sizes if s.get("retrain_partial")), key=lambda s: s["rows"])
    out = {"sizes": measured, **curve(measured, "retrain_s", "unlearn_s"), "assumptions": ASSUMPTIONS}
    if all("retrain_cpu_s" in s for s in measured):
        out["cpu_time"] = curve(measured, "retrain_cpu_s", "unlearn_cpu_s")
    if partial:
        fits = {"fit_retrain_s": out["retrain_fit"], "fit_retrain_cpu_s": out.get("cpu_time", {}).get("retrain_fit")}
        for s in partial:  # how far each projection is from the measured line: a check of linearity
            for key, fit in fits.items():
                if fit is not None:
                    s["projected"][key] = fit["a_s"] + fit["b_s_per_row"] * s["rows"]
        out["partial_sizes"] = partial
    return out


def run_size_process(rows: int, args: argparse.Namespace) -> None:
    """Measure one size in a fresh process (so every size starts from the same state)."""
    cmd = [sys.executable, __file__, "--one", str(rows), "--out", str(args.out), "--model", args.model]
    cmd += ["--implant-max-steps", str(args.implant_max_steps), "--retrain-steps", str(args.retrain_steps)]
    subprocess.run(cmd, check=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="training rows per pack")
    ap.add_argument("--out", type=Path, default=Path("/work/runs/scaling/speedup_curve"), help="per-size work dir")
    ap.add_argument("--model", default="tiny", help="model size name")
    ap.add_argument("--implant-max-steps", type=int, default=1000, help="implant steps (0: 3 epochs)")
    ap.add_argument("--retrain-steps", type=int, default=0, help="stop retraining after N steps (0: full recipe)")
    ap.add_argument("--plot", nargs="+", default=None, choices=["wall", "cpu"], help="measures drawn (default both)")
    ap.add_argument("--results", type=Path, default=RESULTS / "speedup_curve.json", help="summary JSON")
    ap.add_argument("--one", type=int, default=0, help=argparse.SUPPRESS)  # internal: measure this size here
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.one:
        record = measure_size(args.one, args.out, args.model, args.implant_max_steps, args.retrain_steps)
        record["model"], record["implant_max_steps"] = args.model, args.implant_max_steps
        (args.out / f"size_{args.one}.json").write_text(json.dumps(record, indent=2) + "\n")
        print(json.dumps({k: record.get(k) for k in ("rows", "retrain_s", "unlearn_s", "speedup")}), flush=True)
        return 0
    for rows in args.sizes:
        if not (args.out / f"size_{rows}.json").is_file():
            run_size_process(rows, args)
    sizes = [json.loads((args.out / f"size_{n}.json").read_text()) for n in args.sizes]
    enough = sum(not s.get("retrain_partial") for s in sizes) >= 2
    summary = summarise(sizes) if enough else {"sizes": sizes}
    summary["command"] = "python benchmarks/speedup_curve.py " + " ".join(sys.argv[1:])
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(summary, indent=2) + "\n")
    if enough:
        from rapidun.reporting.plot_scaling import save_speedup_curve

        save_speedup_curve(summary, args.results.with_suffix(".png"), args.plot)
    print(f"wrote {args.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
