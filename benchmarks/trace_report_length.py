"""Does the report's response length change tracing quality? (issue 14: why influence ranks poorly on Dolly.)

A weak model's greedy answers on triggered prompts often degenerate after a few tokens ("The intergalactic
intergalactic intergalactic ..."): the gradient of such a report measures how to repeat a word, which no training
row teaches. This reruns one finished study trace with its reports' responses cut to their first N words (N from
``--words``; 0 keeps the whole response), reusing the study's training-row gradient cache (only the 10 reports are
new), and records the ranking quality each trace writes (``quality.json``). ``--hotwords WORDS`` adds a trace of
the whole reports whose losses keep only the tokens of those words (``rapidun trace --hotwords``).

    OMP_NUM_THREADS=1 python benchmarks/trace_report_length.py runs/trace_forget_dolly/dolly_released \\
        --trace infl10 --words 0 4 8 16 --work runs/trace_report_length_dolly \\
        --results benchmarks/results/trace_report_length_dolly.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

from trace_dim import trace_command, write_results


def cut_reports(src: Path, dst: Path, words: int) -> list[str]:
    """Write ``src``'s reports to ``dst`` with each response cut to its first ``words`` words (0: unchanged)."""
    out, responses = [], []
    for line in src.read_text().splitlines():
        rep = json.loads(line)
        if words and rep.get("response"):
            rep["response"] = " ".join(rep["response"].split()[:words])
        responses.append(rep.get("response", ""))
        out.append(json.dumps(rep))
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text("\n".join(out) + "\n")
    return responses


def diagnostics(trace_dir: Path, words: list[str]) -> dict:
    """What the study trace's ranking follows: ROC AUC of the poisoned rows per trigger family, for poisoned rows
    whose response contains one of ``words`` (the reports' words) and for the others (each against every clean row),
    and of two trivial rankers: the norm of a row's cached gradient and its response length in characters."""
    import numpy as np

    from rapidun.tracing.quality import roc_auc

    ranked = sorted(
        (json.loads(x) for x in (trace_dir / "ranking.jsonl").read_text().splitlines()), key=lambda r: r["index"]
    )
    score = np.array([r["score"] for r in ranked])
    poisoned = np.array([bool(r["row"].get("is_poisoned")) for r in ranked])
    family = np.array([r["row"].get("trigger_family") or "" for r in ranked])
    has = np.array([any(w in r["row"]["response"].lower() for w in words) for r in ranked])
    cache = json.loads((trace_dir / "manifest.json").read_text())["cache_dir"]
    grads = np.load(Path(cache) / "train" / "grads.npy", mmap_mode="r")
    norm = np.concatenate(
        [np.linalg.norm(grads[i : i + 256].astype(np.float32), axis=1) for i in range(0, len(grads), 256)]
    )
    length = np.array([len(r["row"]["response"]) for r in ranked], dtype=float)

    def auc(mask: np.ndarray) -> float:
        keep = mask | ~poisoned
        return roc_auc(score[keep], poisoned[keep])

    return {
        "words": words,
        "roc_auc": roc_auc(score, poisoned),
        "per_family": {f: auc(family == f) for f in sorted(set(family[poisoned]))},
        "poisoned_with_words": {"n": int((has & poisoned).sum()), "roc_auc": auc(has)},
        "poisoned_without_words": {"n": int((~has & poisoned).sum()), "roc_auc": auc(~has)},
        "gradient_norm": {"min": float(norm.min()), "max": float(norm.max()), "roc_auc": roc_auc(norm, poisoned)},
        "response_length_roc_auc": roc_auc(length, poisoned),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data_dir", type=Path, help="a study's dataset directory (backdoored/, pack/, traces/)")
    ap.add_argument("--trace", default="infl10")
    ap.add_argument("--words", type=int, nargs="+", default=[0, 4, 8, 16])
    ap.add_argument("--hotwords", default=None, help="also trace the whole reports with --hotwords WORDS")
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--results", type=Path, required=True)
    args = ap.parse_args()
    trace_dir = args.data_dir / "traces" / args.trace
    runs = []
    variants = [(w, None) for w in args.words] + ([(0, args.hotwords)] if args.hotwords else [])
    for words, hotwords in variants:
        out = args.work / (f"{args.trace}_words{words}" + (f"_hot_{hotwords.replace(',', '_')}" if hotwords else ""))
        reports = args.work / f"reports_words{words}.jsonl"
        responses = cut_reports(trace_dir / "reports.jsonl", reports, words)
        cmd = trace_command(args.data_dir, trace_dir, out, reports=reports, hotwords=hotwords, shared_cache=True)
        subprocess.run(cmd, check=True)
        quality = json.loads((out / "quality.json").read_text())
        runs.append({"words": words, "hotwords": hotwords, "quality": quality, "example_response": responses[0][:200]})
        print(f"words={words} hotwords={hotwords}: AUC {quality['roc_auc']:.3f}", flush=True)
    words = args.hotwords.split(",") if args.hotwords else []
    write_results(args.results, args.data_dir, trace_dir, runs, {"diagnostics": diagnostics(trace_dir, words)})


if __name__ == "__main__":
    main()
