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
    write_results(args.results, args.data_dir, trace_dir, runs)


if __name__ == "__main__":
    main()
