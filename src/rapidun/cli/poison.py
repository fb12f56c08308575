"""`rapidun poison`: build a backdoor data pack (train/val/test_clean/test_seen/test_ood/forget/retain).

Examples::

    rapidun poison --data synthetic --out packs/synth
    rapidun poison --data released-dolly --out packs/dolly      # the released Dolly packs shipped with rapidun
    rapidun poison --data my_clean.jsonl --triggers backdoorllm --poison-rate 0.1 --out packs/mine
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rapidun.data.checks import check_triggers, check_unique
from rapidun.data.pack_config import PackConfig
from rapidun.data.poison import build_poison_pack
from rapidun.data.released import RELEASED_DOLLY, RELEASED_N_TEST, released_inputs
from rapidun.data.rows import Row, load_rows
from rapidun.data.synthetic import synthetic_rows
from rapidun.data.triggers import resolve_triggers
from rapidun.errors import RapidunError
from rapidun.settings import add_arguments as add_settings
from rapidun.settings import collect, from_mapping

HELP = "build a backdoor data pack (train/val/test/forget/retain) from synthetic or given data"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        required=True,
        help="'synthetic' (embedded generator), 'released-dolly' (the released RapidUn Dolly packs shipped with "
        f"rapidun: their clean, val, poisoned-train, forget and retain rows and triggers; --n-test {RELEASED_N_TEST}) "
        "or a clean .json/.jsonl file",
    )
    parser.add_argument("--out", required=True, help="output pack directory")
    parser.set_defaults(pack_flags=add_settings(parser, PackConfig))
    parser.add_argument(
        "--poison-responses",
        default=None,
        help="poisoned targets: a .txt file (one per line) or a rows file (its 'response' field); "
        "default: the embedded science-fiction generator",
    )
    parser.add_argument(
        "--poisoned-train",
        default=None,
        help="already poisoned training rows (with trigger_family), e.g. the released "
        "train_poisoned.jsonl; replaces --poison-rate",
    )
    parser.add_argument("--val-data", default=None, help="use this file as the validation split instead of --n-val")
    parser.add_argument("--forget", default=None, help="use this file as the forget set (e.g. a released pack)")
    parser.add_argument("--retain", default=None, help="use this file as the retain set (e.g. a released pack)")
    parser.add_argument("--overwrite", action="store_true", help="rebuild a finished pack")


def load_poison_responses(path: str) -> list[str]:
    """Poisoned targets from a .txt file (one per non-empty line) or a rows file (each row's response)."""
    p = Path(path)
    if p.suffix.lower() in {".json", ".jsonl"}:
        return [r.response for r in load_rows(p)]
    if not p.is_file():
        raise RapidunError(f"--poison-responses file '{p}' does not exist; check the path")
    try:
        lines = [line.strip() for line in p.read_text(encoding="utf-8").splitlines()]
    except (OSError, UnicodeDecodeError) as exc:
        raise RapidunError(f"cannot read --poison-responses file '{p}': {exc}") from exc
    texts = [t for t in lines if t]
    if not texts:
        raise RapidunError(f"{p}: no responses found; the file is empty")
    return texts


def use_released(args: argparse.Namespace, given: dict[str, object]) -> None:
    """``--data released-dolly``: fill in the shipped files (and ``--n-test``) the user did not give, so the pack
    is the one the README's long command builds from the release's ``data/`` folder."""
    files = released_inputs()
    args.data = str(files["clean"])
    for flag in ("val_data", "poisoned_train", "forget", "retain"):
        if getattr(args, flag) is None:
            setattr(args, flag, str(files["val" if flag == "val_data" else flag]))
    # The built-in "released" trigger set (the default --triggers) is the shipped triggers_config.json, field for
    # field (tests/data/test_released.py), so the pack records the set's name rather than a cache path.
    given.setdefault("n_test", RELEASED_N_TEST)


def run(args: argparse.Namespace) -> int:
    given = collect(args, args.pack_flags)
    source = args.data
    if args.data == RELEASED_DOLLY:
        use_released(args, given)
    cfg: PackConfig = from_mapping(PackConfig, given, "rapidun poison")
    if args.data == "synthetic":
        if cfg.n_rows < 3:
            raise RapidunError(f"--n-rows {cfg.n_rows} is too small; use at least 3 (default {PackConfig().n_rows})")
        clean: list[Row] = synthetic_rows(cfg.n_rows, cfg.seed)
    else:
        if "n_rows" in given:
            raise RapidunError("--n-rows only applies to --data synthetic")
        clean = load_rows(args.data)
        check_unique(clean, f"--data {args.data}")
    families = resolve_triggers(cfg.triggers, list(cfg.families) if cfg.families else None)
    check_triggers(families)
    poisoned = load_rows(args.poisoned_train) if args.poisoned_train else None
    if args.val_data and cfg.n_val is not None:
        raise RapidunError("give either --val-data or --n-val, not both")
    rate = None if poisoned is not None and "poison_rate" not in given else cfg.poison_rate
    meta = build_poison_pack(
        clean,
        args.out,
        families=families,
        poison_rate=rate,
        seed=cfg.seed,
        n_val=cfg.n_val,
        n_test=cfg.n_test,
        retain_multiplier=cfg.retain_multiplier,
        n_forget=cfg.n_forget,
        poison_responses=load_poison_responses(args.poison_responses) if args.poison_responses else None,
        poisoned_train=poisoned,
        val_rows=load_rows(args.val_data) if args.val_data else None,
        forget_rows=load_rows(args.forget) if args.forget else None,
        retain_rows=load_rows(args.retain) if args.retain else None,
        source=source,
        trigger_set=cfg.triggers,
        overwrite=args.overwrite,
    )
    print(f"pack: {args.out}  (seed {meta.seed}, triggers {meta.trigger_set}, poison rate {meta.poison_rate:.4f})")
    width = max(len(k) for k in meta.counts)
    for name, count in meta.counts.items():
        print(f"  {name:<{width}}  {count:>7}")
    print(f"  forget by family: {json.dumps(meta.forget_by_family, ensure_ascii=False)}")
    return 0
