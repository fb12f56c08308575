"""``rapidun facts``: write the embedded, seeded TOFU-style facts pack (fictitious people, forget/retain/holdout
splits, world facts); see :mod:`rapidun.data.facts` for the layout."""

from __future__ import annotations

import argparse
from dataclasses import MISSING, fields
from typing import Any

HELP = "write a TOFU-style facts pack: fictitious people, forget01/05/10, retain, holdout and world-fact splits"


def _config_fields() -> list[Any]:
    from rapidun.data.facts import FactsConfig

    return list(fields(FactsConfig))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory of the pack")
    for f in _config_fields():
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not MISSING else None
        help_text = f"{f.metadata['help']} (default {default})"
        if f.type in (bool, "bool"):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=help_text)
        else:
            kind = int if f.type in (int, "int") else str
            parser.add_argument(flag, type=kind, default=default, choices=f.metadata.get("choices"), help=help_text)
    parser.add_argument("--overwrite", action="store_true", help="replace a pack with other settings in --out")


def run(args: argparse.Namespace) -> int:
    from rapidun.data.facts import FactsConfig, build_facts_pack

    cfg = FactsConfig(**{f.name: getattr(args, f.name) for f in _config_fields()})
    meta = build_facts_pack(args.out, cfg, overwrite=args.overwrite)
    counts, people = meta["counts"], meta["people"]
    print(
        f"wrote facts pack {args.out}: {people['trained']} trained people ({counts['train']} training rows), "
        f"forget01/05/10 = {people['forget01']}/{people['forget05']}/{people['forget10']} people, "
        f"{people['holdout']} holdout people, {counts['world']} world facts; forget.jsonl = {meta['forget_split']}"
    )
    return 0
