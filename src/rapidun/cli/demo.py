"""``rapidun demo``: the main job, end to end on embedded data, with a table and a report."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="rapidun_demo", help="output directory (default: ./rapidun_demo)")
    parser.add_argument("--quick", action="store_true", help="a smaller model and fewer rows (about 2 minutes)")
    parser.add_argument("--model", default=None, help="size name (default tiny; --quick: nano; benchmark: small)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars (implied by -q)")


def run(args: argparse.Namespace) -> int:
    from rapidun.cli.study import print_summary
    from rapidun.pipeline.demo import demo_config
    from rapidun.pipeline.study import run_study

    cfg = demo_config(args.quick, args.model)
    log = logging.getLogger("rapidun")
    log.info("rapidun demo: %s model, %d methods + retraining, results in %s", cfg.model, len(cfg.methods), args.out)

    def on_cell(rec: dict) -> None:
        m = rec["metrics"]
        log.info(
            "  done %-12s seed %s: ASR seen %.2f, OOD %.2f, clean PPL %.2f, %.1fs",
            rec["method"],
            rec["seed"],
            m["asr_seen"] or 0.0,
            m["asr_ood"] or 0.0,
            m["clean_ppl"] or 0.0,
            rec["timings"]["total_s"],
        )

    command = "rapidun demo " + " ".join(sys.argv[2:])
    result = run_study(cfg, Path(args.out), command=command, on_cell=on_cell, progress=not args.no_progress)
    print()
    print_summary(result)
    return 0
