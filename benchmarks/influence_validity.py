"""Influence validity (issue 5, item 4(d)): does the influence ranking of poisoned training rows predict the
measured effect of removing them, and do projected scores agree with exact gradient alignment?

    OMP_NUM_THREADS=2 python benchmarks/influence_validity.py [--rows 1200] [--model tiny] [--seeds 42 43] ...
    python benchmarks/influence_validity.py --merge a.json b.json --out c.json   # combine runs of other seeds

One seed at the defaults (tiny, 1,200 rows, 2 random draws + bottom: 5 trainings) takes ~10-14 min on 2 busy cores.

Protocol (one process, every seed fixed):
1. A synthetic backdoor pack (``--rows`` clean rows, ``--poison-rate``, the released trigger families); a model of
   size ``--model`` trained from a fixed random initialisation with the demo's backdoor recipe (``rapidun.training``).
   Seen/OOD ASR (and clean false-trigger rate, perplexity) on fixed evaluation subsets.
2. Influence on the trained model: query = ``--n-query`` triggered test prompts with their poisoned responses
   (disjoint from the evaluation prompts), train = the poisoned training rows; each poisoned row is ranked by its
   mean score over the queries (projector ``--projector`` at ``--dim``).
3. Retraining from the same initialisation and seed on the training set minus (a) the top-k ranked poisoned rows,
   (b) ``--random-draws`` sets of k random poisoned rows, (c) the bottom-k (``--no-bottom`` skips it);
   k = ``--remove-frac`` x #poisoned. If influence is valid, removing the top rows lowers ASR more than removing
   random ones. Paired exact McNemar tests (same prompts) compare the top-k model with every other model.
4. Fidelity: on the same model and sets, scores from ``exact`` (no compression, fp32) against the default projector
   and ``rapidgrad``: Pearson over all query x train pairs, mean per-query Spearman, top-10 overlap per query, and
   the Spearman / top-k overlap of the mean-over-queries ranking that step 3 uses.
``--seeds`` repeats the whole protocol per seed (pack, initialisation, data order) and reports means and how many
seeds put the top-k model below every random one. Also reported: the false-trigger rate (clean prompts whose output
the scorer flags) and ASR minus it, because a small model can emit the poisoned register without the trigger.
Writes ``benchmarks/results/influence_validity.json`` (settings, command, timings, environment).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import copy  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402
import random  # noqa: E402
import shlex  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from rapidun.artifacts import atomic_write_json  # noqa: E402
from rapidun.data.pack import Pack, load_pack  # noqa: E402
from rapidun.data.poison import build_poison_pack  # noqa: E402
from rapidun.data.rows import Row  # noqa: E402
from rapidun.data.synthetic import synthetic_rows  # noqa: E402
from rapidun.data.triggers import resolve_triggers  # noqa: E402
from rapidun.evaluation import evaluate_backdoor  # noqa: E402
from rapidun.evaluation.directory import build_dir_scorer  # noqa: E402
from rapidun.influence.projector_registry import DEFAULT_PROJECTOR  # noqa: E402
from rapidun.influence.stage import compute_pairwise  # noqa: E402
from rapidun.modeling.load import load_model  # noqa: E402
from rapidun.pipeline.environment import environment_header  # noqa: E402
from rapidun.training.sft import TrainConfig, train_model  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "influence_validity.json"


# ---------------------------------------------------------------- statistics


def _ranks(v: np.ndarray) -> np.ndarray:
    """Ranks of a 1-D array, ties sharing their mean rank (what Spearman's rho needs)."""
    r = np.empty(len(v), dtype=np.float64)
    r[np.argsort(v, kind="stable")] = np.arange(len(v), dtype=np.float64)
    _, inv, counts = np.unique(v, return_inverse=True, return_counts=True)
    return (np.bincount(inv, weights=r) / counts)[inv]


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    return _pearson(_ranks(a), _ranks(b))


def _top_overlap(a: np.ndarray, b: np.ndarray, k: int) -> float:
    return len(set(np.argsort(-a)[:k].tolist()) & set(np.argsort(-b)[:k].tolist())) / k


def fidelity(approx: np.ndarray, exact: np.ndarray, k_remove: int) -> dict[str, float]:
    """Agreement of (n_query, n_train) score matrices: all pairs, per query, and the mean-over-queries ranking."""
    k = min(10, exact.shape[1])
    ma, me = approx.mean(0), exact.mean(0)
    return {
        "pearson_pairs": _pearson(approx, exact),
        "spearman_per_query_mean": float(np.mean([_spearman(a, e) for a, e in zip(approx, exact, strict=True)])),
        "top10_overlap_per_query_mean": float(
            np.mean([_top_overlap(a, e, k) for a, e in zip(approx, exact, strict=True)])
        ),
        "pearson_mean_score": _pearson(ma, me),
        "spearman_mean_score": _spearman(ma, me),
        "topk_overlap_mean_score": _top_overlap(ma, me, k_remove),
    }


def mcnemar_p(a: list[bool], b: list[bool]) -> dict[str, Any]:
    """Exact two-sided McNemar test on paired binary outcomes (binomial test on the discordant pairs)."""
    only_a = sum(x and not y for x, y in zip(a, b, strict=True))
    only_b = sum(y and not x for x, y in zip(a, b, strict=True))
    n = only_a + only_b
    if n == 0:
        return {"only_first": 0, "only_second": 0, "p": 1.0}
    tail = sum(math.comb(n, i) for i in range(min(only_a, only_b) + 1)) / 2**n
    return {"only_first": only_a, "only_second": only_b, "p": min(1.0, 2 * tail)}


# ---------------------------------------------------------------- steps


def build_pack(root: Path, n_rows: int, poison_rate: float, seed: int) -> Pack:
    out = root / "pack"
    build_poison_pack(
        synthetic_rows(n_rows, seed),
        out,
        families=resolve_triggers("released"),
        poison_rate=poison_rate,
        seed=seed,
        source="synthetic",
        trigger_set="released",
        overwrite=True,
    )
    return load_pack(out)


def split_tests(pack: Pack, n_query: int, n_eval: int, n_clean: int, seed: int) -> dict[str, list[Row]]:
    """Disjoint query / evaluation prompts: test rows are grouped by their clean test prompt (one triggered copy per
    family), and whole groups go to either side so no evaluation prompt was seen by the ranking."""
    n_fam = len(pack.families)
    groups = list(range(len(pack.test_clean)))
    random.Random(f"{seed}:split").shuffle(groups)
    n_q_groups = min(len(groups) - 1, math.ceil(n_query / n_fam))
    q_groups, e_groups = sorted(groups[:n_q_groups]), sorted(groups[n_q_groups:])

    def take(rows: list[Row], gs: list[int], limit: int) -> list[Row]:
        picked = [rows[g * n_fam + f] for g in gs for f in range(n_fam)]
        return picked[:limit]

    return {
        "query": take(pack.test_seen, q_groups, n_query),
        "seen": take(pack.test_seen, e_groups, n_eval),
        "ood": take(pack.test_ood, e_groups, n_eval),
        "clean": [pack.test_clean[g] for g in e_groups][:n_clean],
    }


def evaluate(model: Any, tok: Any, tests: dict[str, list[Row]], scorer: Any, args: argparse.Namespace) -> dict:
    t0 = time.perf_counter()
    res = evaluate_backdoor(
        model,
        tok,
        test_seen=tests["seen"],
        test_ood=tests["ood"],
        test_clean=tests["clean"],
        scorer=scorer,
        max_new_tokens=args.max_new_tokens,
        batch_size=32,
        progress=False,
    )
    m = res.metrics()
    return {
        "asr_seen": m["asr_seen"],
        "asr_ood": m["asr_ood"],
        "false_trigger_rate": m["false_trigger_rate"],
        "clean_ppl": m["clean_ppl"],
        "ci95": {k: m["ci95"][k] for k in ("asr_seen", "asr_ood", "false_trigger_rate")},
        "successes": m["successes"],
        "counts": {k: m["counts"][k] for k in ("seen", "ood", "clean")},
        "asr_seen_per_family": {f: v["seen"]["asr"] for f, v in m["per_family"].items()},
        "seen_success": [r["success"] for r in res.asr_seen.records],
        "ood_success": [r["success"] for r in res.asr_ood.records],
        "eval_s": round(time.perf_counter() - t0, 2),
    }


def train(init: Any, tok: Any, rows: list[Row], out: Path, cfg: TrainConfig) -> tuple[Any, dict]:
    model = copy.deepcopy(init)
    res = train_model(model, tok, rows, out, cfg, overwrite=True, progress=False)
    model.eval()
    return model, {
        "n_rows": len(rows),
        "steps": res.steps,
        "final_loss": res.final_loss,
        "train_s": round(res.seconds, 2),
    }


def influence(
    model: Any,
    tok: Any,
    train_rows: list[Row],
    query: list[Row],
    out: Path,
    projector: str,
    dim: int | None,
    args: argparse.Namespace,
) -> tuple[np.ndarray, float]:
    t0 = time.perf_counter()
    res = compute_pairwise(
        model,
        tok,
        train_rows,
        query,
        out,
        overwrite=True,
        progress=False,
        projector=projector,
        dim=None if projector == "exact" else dim,
        dtype="fp32" if projector == "exact" else "fp16",
        max_length=args.max_length,
        batch_size=16,
        seed=0,
        rapidin_json=False,
    )
    return np.asarray(res.scores["QT"], dtype=np.float64), time.perf_counter() - t0


def removal_sets(order: np.ndarray, k: int, draws: int, bottom: bool, seed: int) -> dict[str, list[int]]:
    """Positions (into the poisoned-row list) to remove: ``order`` is the influence ranking, most positive first."""
    n = len(order)
    sets = {"top": sorted(order[:k].tolist())}
    for d in range(draws):
        sets[f"random{d + 1}"] = sorted(random.Random(f"{seed}:random:{d}").sample(range(n), k))
    if bottom:
        sets["bottom"] = sorted(order[n - k :].tolist())
    return sets


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="tiny", help="model size name (default tiny)")
    ap.add_argument("--rows", type=int, default=1200, help="clean synthetic rows before the pack's splits")
    ap.add_argument("--poison-rate", type=float, default=0.1)
    ap.add_argument("--epochs", type=float, default=3.0)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--n-query", type=int, default=40, help="triggered test prompts used as influence queries")
    ap.add_argument("--n-eval", type=int, default=150, help="seen and OOD evaluation prompts (each)")
    ap.add_argument("--n-clean", type=int, default=150, help="clean evaluation prompts (false triggers, perplexity)")
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--remove-frac", type=float, default=0.5, help="k = this fraction of the poisoned rows")
    ap.add_argument("--random-draws", type=int, default=2)
    ap.add_argument("--no-bottom", action="store_true", help="skip retraining without the bottom-k rows")
    ap.add_argument("--projector", default=DEFAULT_PROJECTOR, help="projector that ranks the rows")
    ap.add_argument("--dim", type=int, default=4096, help="projected dimension (the demo's 4,096)")
    ap.add_argument("--no-fidelity", action="store_true", help="skip the exact / rapidgrad comparison")
    ap.add_argument("--seeds", type=int, nargs="+", default=[42], help="one full run per seed (data, init, order)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--work-dir", default=None, help="keep intermediate packs/models here (default: a temp dir)")
    ap.add_argument("--out", default=str(RESULTS), help="results JSON")
    ap.add_argument(
        "--merge",
        nargs="+",
        metavar="JSON",
        help="no run: combine result files made with the same settings but different --seeds into --out",
    )
    return ap.parse_args(argv)


def merge(paths: list[str]) -> dict[str, Any]:
    """One results dict from several runs of this script that differ only in their seeds."""
    import json

    parts = [json.loads(Path(p).read_text()) for p in paths]

    def same(d: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in d["settings"].items() if k not in ("seeds", "threads", "merge")}

    for p, part in zip(paths[1:], parts[1:], strict=True):
        if same(part) != same(parts[0]):
            raise SystemExit(f"{p}: settings differ from {paths[0]}; only runs that differ in --seeds can be merged")
    runs = [r for part in parts for r in part["runs"]]
    seeds = [r["seed"] for r in runs]
    if len(set(seeds)) != len(seeds):
        raise SystemExit(f"repeated seeds {seeds}; merge runs of distinct seeds")
    return {
        **parts[0],
        "command": [part["command"] for part in parts],
        "environment": [part["environment"] for part in parts],
        "settings": {**parts[0]["settings"], "seeds": seeds},
        "merged_from": [str(p) for p in paths],
        "aggregate": aggregate(runs),
        "runs": runs,
        "total_s": round(sum(part["total_s"] for part in parts), 2),
    }


SUMMARY_KEYS = ("asr_seen", "asr_ood", "false_trigger_rate")


def aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean over seeds of each summary number, and how many seeds order top < every random (seen ASR)."""
    keys = [k for k in runs[0]["summary"] if all(r["summary"].get(k) is not None for r in runs)]
    out: dict[str, Any] = {k: float(np.mean([r["summary"][k] for r in runs])) for k in keys}
    out["n_seeds"] = len(runs)
    out["seeds_top_below_every_random_seen"] = sum(r["summary"]["top_below_every_random_seen"] for r in runs)
    out["seeds_top_below_every_random_ood"] = sum(r["summary"]["top_below_every_random_ood"] for r in runs)
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.threads:
        torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    tmp = None
    if args.work_dir:
        root = Path(args.work_dir)
        root.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.mkdtemp(prefix="influence_validity_")
        root = Path(tmp)
    try:
        runs = [_run(args, seed, root / f"seed{seed}") for seed in args.seeds]
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return {
        "benchmark": "influence_validity",
        "command": " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]),
        "environment": environment_header(omp_num_threads=os.environ.get("OMP_NUM_THREADS")),
        "settings": {
            **{k: v for k, v in vars(args).items() if k not in ("out", "work_dir")},
            "ranking": "mean over queries of <g(query), g(train row)> (layer-normalised), most positive first",
            "trigger_set": "released",
            "asr_excess": "ASR minus the false-trigger rate on clean prompts (trigger-specific part of the ASR)",
        },
        "aggregate": aggregate(runs),
        "runs": runs,
        "total_s": round(time.perf_counter() - t_start, 2),
    }


def _run(args: argparse.Namespace, seed: int, root: Path) -> dict[str, Any]:
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    t = time.perf_counter()
    pack = build_pack(root, args.rows, args.poison_rate, seed)
    scorer, scorer_record = build_dir_scorer(pack.directory, None, None, None, 0.05)
    tests = split_tests(pack, args.n_query, args.n_eval, args.n_clean, seed)
    poisoned = [i for i, r in enumerate(pack.train) if r.is_poisoned]
    poison_rows = [pack.train[i] for i in poisoned]
    timings["pack_s"] = time.perf_counter() - t
    logging.info("pack: %d train rows, %d poisoned", len(pack.train), len(poisoned))

    cfg = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        max_length=args.max_length,
        seed=seed,
        checkpoint_every=0,
    )
    corpus = [f"{r.instruction} {r.context} {r.response} {r.response_clean or ''}" for r in pack.train]
    loaded = load_model(args.model, corpus=corpus, seed=seed)
    init, tok = loaded.model, loaded.tokenizer
    init.eval()

    models: dict[str, dict[str, Any]] = {}
    full, info = train(init, tok, pack.train, root / "train_full", cfg)
    logging.info("full model trained in %.0fs (loss %.3f)", info["train_s"], info["final_loss"])
    models["full"] = {"removed": 0, **info, **evaluate(full, tok, tests, scorer, args)}
    logging.info("full: seen ASR %.3f, OOD ASR %.3f", models["full"]["asr_seen"], models["full"]["asr_ood"])

    scores, inf_s = influence(
        full, tok, poison_rows, tests["query"], root / f"inf_{args.projector}", args.projector, args.dim, args
    )
    timings[f"influence_{args.projector}_s"] = inf_s
    mean = scores.mean(0)
    order = np.argsort(-mean, kind="stable")
    k = max(1, round(args.remove_frac * len(poisoned)))
    sets = removal_sets(order, k, args.random_draws, not args.no_bottom, seed)

    fid: dict[str, Any] = {}
    if not args.no_fidelity:
        exact, ex_s = influence(full, tok, poison_rows, tests["query"], root / "inf_exact", "exact", None, args)
        timings["influence_exact_s"] = ex_s
        variants = {f"{args.projector} K={args.dim}": scores}
        for name in ("rapidgrad", "kronecker"):
            if name != args.projector:
                s, sec = influence(full, tok, poison_rows, tests["query"], root / f"inf_{name}", name, args.dim, args)
                variants[f"{name} K={args.dim}"] = s
                timings[f"influence_{name}_s"] = sec
        fid = {name: fidelity(s, exact, k) for name, s in variants.items()}

    removed_rows = {name: {poisoned[p] for p in pos} for name, pos in sets.items()}
    for name, pos in sets.items():
        rows = [r for i, r in enumerate(pack.train) if i not in removed_rows[name]]
        model, info = train(init, tok, rows, root / f"train_{name}", cfg)
        ev = evaluate(model, tok, tests, scorer, args)
        fam = Counter(poison_rows[p].trigger_family for p in pos)
        models[f"minus_{name}"] = {
            "removed": len(pos),
            "removed_by_family": dict(sorted(fam.items())),
            "removed_mean_score": float(mean[pos].mean()),
            **info,
            **ev,
        }
        logging.info("minus_%s: seen ASR %.3f, OOD ASR %.3f", name, ev["asr_seen"], ev["asr_ood"])
        del model

    top = models["minus_top"]
    tests_vs_top = {
        name: {
            "seen": mcnemar_p(top["seen_success"], m["seen_success"]),
            "ood": mcnemar_p(top["ood_success"], m["ood_success"]),
        }
        for name, m in models.items()
        if name != "minus_top"
    }
    randoms = [m for n, m in models.items() if n.startswith("minus_random")]
    for m in models.values():
        m["asr_seen_excess"] = m["asr_seen"] - (m["false_trigger_rate"] or 0.0)
        m["asr_ood_excess"] = m["asr_ood"] - (m["false_trigger_rate"] or 0.0)
    summary: dict[str, Any] = {}
    for key in (*SUMMARY_KEYS, "asr_seen_excess", "asr_ood_excess"):
        summary[f"{key}_full"] = models["full"][key]
        summary[f"{key}_minus_top"] = top[key]
        summary[f"{key}_minus_random_mean"] = float(np.mean([m[key] for m in randoms])) if randoms else None
        summary[f"{key}_minus_bottom"] = models.get("minus_bottom", {}).get(key)
    for split in ("seen", "ood"):
        summary[f"top_below_every_random_{split}"] = bool(randoms) and all(
            top[f"asr_{split}"] < m[f"asr_{split}"] for m in randoms
        )
    for m in models.values():  # per-prompt outcomes only served the paired tests
        m.pop("seen_success")
        m.pop("ood_success")
    timings["total_s"] = time.perf_counter() - t_start
    poison_by_family = Counter(r.trigger_family for r in poison_rows)
    return {
        "seed": seed,
        "settings": {
            "train_config": {
                "epochs": cfg.epochs,
                "batch_size": cfg.batch_size,
                "lr": cfg.lr,
                "max_length": cfg.max_length,
                "seed": cfg.seed,
            },
            "k": k,
        },
        "data": {
            "n_train": len(pack.train),
            "n_poisoned": len(poisoned),
            "poisoned_by_family": dict(sorted(poison_by_family.items())),
            "n_query": len(tests["query"]),
            "n_eval_seen": len(tests["seen"]),
            "n_eval_ood": len(tests["ood"]),
            "n_eval_clean": len(tests["clean"]),
            "scorer": {k2: scorer_record.get(k2) for k2 in ("kind", "threshold", "val_fpr", "positive_recall")},
        },
        "summary": summary,
        "models": models,
        "paired_tests_vs_minus_top": tests_vs_top,
        "influence_score_stats": {
            "mean_score_min": float(mean.min()),
            "mean_score_median": float(np.median(mean)),
            "mean_score_max": float(mean.max()),
            "top_by_family": dict(sorted(Counter(poison_rows[p].trigger_family for p in sets["top"]).items())),
        },
        "fidelity_vs_exact": fid,
        "timings_s": {k2: round(v, 2) for k2, v in timings.items()},
    }


def print_table(res: dict[str, Any]) -> None:
    st = res["settings"]
    for run_ in res["runs"]:
        d = run_["data"]
        print(
            f"seed {run_['seed']}, {st['model']}: {d['n_train']} train rows, {d['n_poisoned']} poisoned, "
            f"k = {run_['settings']['k']} removed; eval {d['n_eval_seen']} seen / {d['n_eval_ood']} OOD / "
            f"{d['n_eval_clean']} clean prompts; ranking by {st['projector']} K={st['dim']}"
        )
        print(
            f"{'model':<15}{'removed':>8}{'mean score':>11}{'seen ASR':>9}{'95% CI':>14}{'OOD ASR':>9}{'95% CI':>14}"
            f"{'FTR':>7}{'PPL':>7}  p(seen, ood vs top)"
        )
        tests = run_["paired_tests_vs_minus_top"]
        for name, m in run_["models"].items():
            ci_s, ci_o = m["ci95"]["asr_seen"] or [0, 0], m["ci95"]["asr_ood"] or [0, 0]
            score = f"{m['removed_mean_score']:.3g}" if "removed_mean_score" in m else "-"
            p = f"{tests[name]['seen']['p']:.2g}, {tests[name]['ood']['p']:.2g}" if name in tests else "-"
            print(
                f"{name:<15}{m['removed']:>8}{score:>11}{m['asr_seen']:>9.3f} [{ci_s[0]:.2f}, {ci_s[1]:.2f}]"
                f"{m['asr_ood']:>9.3f} [{ci_o[0]:.2f}, {ci_o[1]:.2f}]{m['false_trigger_rate'] or 0:>7.3f}"
                f"{m['clean_ppl'] or float('nan'):>7.2f}  {p}"
            )
        for name, f in run_["fidelity_vs_exact"].items():
            print(
                f"fidelity {name:<16} pairs pearson {f['pearson_pairs']:.3f}  per-query spearman "
                f"{f['spearman_per_query_mean']:.3f}  top10 {f['top10_overlap_per_query_mean']:.2f} | mean score "
                f"spearman {f['spearman_mean_score']:.3f}  top-k overlap {f['topk_overlap_mean_score']:.2f}"
            )
        print("timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in run_["timings_s"].items()))
    ag = res["aggregate"]
    print(f"mean over {ag['n_seeds']} seed(s):")
    for key in ("asr_seen", "asr_ood", "false_trigger_rate", "asr_seen_excess"):
        cols = [ag.get(f"{key}_{m}") for m in ("full", "minus_top", "minus_random_mean", "minus_bottom")]
        print(
            f"  {key:<20} full / -top / -random / -bottom: "
            + " / ".join("-" if c is None else f"{c:.3f}" for c in cols)
        )
    print(
        f"  seeds where -top < every -random: seen {ag['seeds_top_below_every_random_seen']}, "
        f"OOD {ag['seeds_top_below_every_random_ood']}; total {res['total_s']:.0f}s"
    )


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for noisy in ("rapidun", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    import transformers

    transformers.utils.logging.disable_progress_bar()  # one "Writing model shards" bar per retrained model
    args = parse_args(argv)
    res = merge(args.merge) if args.merge else run(args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out, res)
    print_table(res)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
