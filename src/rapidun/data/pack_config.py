"""Settings of ``rapidun poison`` (docs/method.md section 1): how a backdoor pack is cut and poisoned."""

from __future__ import annotations

from dataclasses import dataclass

from rapidun.data.synthetic import SYNTHETIC_ROWS
from rapidun.data.triggers import TRIGGER_SETS
from rapidun.settings import SEED, setting


@dataclass(frozen=True)
class PackConfig:
    triggers: str = setting("released", f"trigger set: {' | '.join(TRIGGER_SETS)} or a triggers_config.json file")
    families: tuple[str, ...] | None = setting(None, "comma-separated subset of the set's families (none: all)")
    poison_rate: float = setting(0.05, "fraction of training rows to poison, in (0, 1] (not with --poisoned-train)")
    seed: int = setting(SEED, "seed of generation, poisoning and splits")
    n_rows: int = setting(SYNTHETIC_ROWS, "rows to generate with --data synthetic")
    n_val: int | None = setting(None, "validation rows (none: 5% of the clean rows)")
    n_test: int | None = setting(None, "clean test rows (none: 10% of the clean rows)")
    n_forget: int | None = setting(None, "forget rows, stratified by family (none: min(40, poisoned rows))")
    retain_multiplier: float = setting(3.0, "retain size = k x forget size")
