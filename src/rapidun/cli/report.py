"""`rapidun report DIR [DIR ...] [--out OUTDIR]`: re-render run directories as report.html / report.md.

With one DIR the report is written into it (unless --out says otherwise); with several, --out is required and the
report starts with a comparison of the runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rapidun.errors import RapidunError

HELP = "render (and compare) run directories as report.html / report.md"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dirs", nargs="+", type=Path, metavar="DIR", help="run directories holding a results.json")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output directory (default: DIR when one DIR is given; required for several)",
    )


def run(args: argparse.Namespace) -> int:
    from rapidun.reporting.render import FIGURES_DIR, render_report  # here: matplotlib is slow to import

    dirs: list[Path] = args.dirs
    out = args.out
    if out is None:
        if len(dirs) > 1:
            raise RapidunError(f"{len(dirs)} run directories given; pass --out OUTDIR for the comparison report")
        out = dirs[0]
    paths = render_report(dirs, out)
    print(f"report: {paths.html}")
    print(f"markdown: {paths.markdown} ({len(paths.figures)} figures in {paths.markdown.parent / FIGURES_DIR})")
    return 0
