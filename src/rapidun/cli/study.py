"""``rapidun study CONFIG.yaml``: a resumable grid of datasets x methods x seeds x sweeps, with a report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rapidun.errors import RapidunError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="study YAML (see configs/: demo.yaml, dolly_released.yaml, ablation.yaml, ...)")
    parser.add_argument("--out", default=None, help="output directory (default: runs/<config name>)")
    parser.add_argument("--no-report", action="store_true", help="skip rendering report.html / report.md")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars (implied by -q)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value (dotted keys, YAML values), e.g. --set seeds=[1] --set model=tiny",
    )


def read_yaml(path: str) -> dict[str, Any]:
    import yaml

    p = Path(path)
    if not p.is_file():
        raise RapidunError(f"study config '{p}' does not exist; see configs/ for examples")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{p}:{mark.line + 1}" if mark is not None else str(p)
        raise RapidunError(f"{where}: invalid YAML ({getattr(exc, 'problem', exc)})") from exc
    if not isinstance(data, dict):
        raise RapidunError(f"{p}: a study config must be a YAML mapping")
    return data


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """``key.sub=value`` overrides (values parsed as YAML) applied to the config mapping."""
    import yaml

    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise RapidunError(f"--set '{item}' is not KEY=VALUE (e.g. --set seeds=[1,2])")
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.get(part) if isinstance(node, dict) else None
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise RapidunError(f"--set {key}: '{part}' is not a mapping in the config")
            node = child
        node[parts[-1]] = yaml.safe_load(raw)
    return data


def print_summary(result: Any) -> None:
    from rapidun.pipeline.study_facts import facts_summary, has_facts
    from rapidun.reporting.results import load_results
    from rapidun.reporting.tables import aggregate_runs, format_table_text

    if has_facts(result.runs):
        print(facts_summary(result.runs))  # one line per run: the facts metrics have no ASR columns
    backdoor = [r for r in load_results(result.out_dir).runs if not r.is_facts]
    if backdoor:
        print(format_table_text(aggregate_runs(backdoor)))
    print(f"\nresults: {(result.out_dir / 'results.json').resolve()} (and results.csv)")
    if result.report_html is not None:
        print(f"report:  {Path(result.report_html).resolve()}")


def run(args: argparse.Namespace) -> int:
    from rapidun.pipeline.study import run_study
    from rapidun.pipeline.study_config import study_config

    cfg = study_config(apply_overrides(read_yaml(args.config), args.set))
    out = Path(args.out) if args.out else Path("runs") / cfg.name
    command = "rapidun study " + " ".join(sys.argv[2:])
    result = run_study(cfg, out, command=command, report=not args.no_report, progress=not args.no_progress)
    print_summary(result)
    return 0
