"""``rapidun relearn``: fine-tune an unlearned model for a few steps on a share of its forget rows and report how
much of the forgotten behaviour comes back (recovery; docs/method.md section 6).

The flags of the relearning settings are built from :class:`rapidun.pipeline.relearn_config.RelearnConfig`, so each
default and help text lives once.
"""

from __future__ import annotations

import argparse
import typing
from dataclasses import MISSING, fields
from typing import Any

HELP = "relearning check: fine-tune the unlearned model briefly on forget rows and report the recovery"


def _config_cls() -> Any:
    from rapidun.pipeline.relearn_config import RelearnConfig

    return RelearnConfig


def _flag_type(hint: Any) -> Any:
    """int/float/str of a field annotation (``int | None`` -> int)."""
    options = [o for o in typing.get_args(hint) if o is not type(None)] or [hint]
    return options[0]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from rapidun.pipeline.relearn_config import flag_name

    parser.add_argument("--model", required=True, help="the model unlearning started from (directory or hub id)")
    parser.add_argument(
        "--adapter",
        default=None,
        help="unlearning adapter ('rapidun unlearn' --out), merged into a copy; omit for a merged model directory",
    )
    parser.add_argument("--data", required=True, help="the pack the model unlearned (rapidun poison output)")
    parser.add_argument(
        "--out", required=True, help="output directory (relearn.json, relearn_rows.jsonl, manifest.json)"
    )
    parser.add_argument(
        "--before-metrics", default=None, help="metrics.json of the model before unlearning (default: evaluate --model)"
    )
    parser.add_argument(
        "--unlearned-metrics", default=None, help="metrics.json of the unlearned model (default: evaluate it)"
    )
    cls = _config_cls()
    hints = typing.get_type_hints(cls)
    for f in fields(cls):
        kind = _flag_type(hints[f.name])
        text = str(f.metadata["help"])
        if kind is not bool and "default" not in text:  # each default shown once, from the dataclass
            text += f" (default {f.default if f.default is not MISSING else 'none'})"
        if kind is bool:
            parser.add_argument(flag_name(f.name), action="store_true", default=None, help=text)
        else:
            parser.add_argument(flag_name(f.name), type=kind, default=None, help=text)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")
    parser.add_argument("--overwrite", action="store_true", help="redo a finished relearning run in --out")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def build_config(args: argparse.Namespace) -> Any:
    """RelearnConfig from the flags given (the others keep their defaults), validated."""
    cls = _config_cls()
    given = {f.name: getattr(args, f.name) for f in fields(cls) if getattr(args, f.name, None) is not None}
    cfg = cls(**given)
    cfg.validate()
    return cfg


def run(args: argparse.Namespace) -> int:
    from rapidun.pipeline.relearn import relearn

    cfg = build_config(args)
    result = relearn(
        args.model,
        args.adapter,
        args.data,
        args.out,
        cfg,
        before_metrics=args.before_metrics,
        unlearned_metrics=args.unlearned_metrics,
        device=args.device,
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    rec = result.record
    values = [rec[k].get(result.metric) for k in ("before_unlearning", "after_unlearning", "after_relearning")]
    shown = " -> ".join("n/a" if v is None else f"{v:.4f}" for v in values)
    score = "undefined" if result.recovery is None else f"{result.recovery:.3f}"
    print(f"relearn ({result.task}) {'reused' if result.reused else 'done'}: {result.metric} {shown}")
    print(f"  recovery {score}" + (f" ({result.recovery_reason})" if result.recovery_reason else ""))
    held = rec.get("heldout")
    if held and held["recovery"] is not None:  # facts: the forget questions the relearning did not train on
        print(f"  on the {held['n']} forget rows not relearned: recovery {held['recovery']:.3f}")
    print(f"wrote {args.out}/relearn.json")
    return 0
