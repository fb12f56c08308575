"""Planning a backdoor pack in memory (docs/method.md section 6): seeded splits, trigger injection at an exact poison
rate, seen/OOD trigger tests, and a family-stratified forget set with a k-times larger clean retain set.

Every random choice comes from ``random.Random(f"{seed}:{purpose}")`` (string seeds are hashed with SHA-512, so the
result does not depend on ``PYTHONHASHSEED``); the same inputs and seed give the same rows in the same order.
Nothing here touches the disk: :func:`plan_pack` raises :class:`RapidunError` before any file is written.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from rapidun.data.pack import PackMeta
from rapidun.data.rows import Row, overlapping_rows
from rapidun.data.synthetic import poison_responses as synthetic_poison_responses
from rapidun.data.triggers import TriggerFamily, family_by_name, insert_trigger
from rapidun.errors import RapidunError

log = logging.getLogger(__name__)
DEFAULT_MAX_FORGET = 40  # the released packs' forget size


def _rng(seed: int, purpose: str) -> random.Random:
    return random.Random(f"{seed}:{purpose}")


def round_half_up(x: float) -> int:
    """Rounding used for every derived count (so 0.05 * 2550 = 127.5 gives 128)."""
    return int(x + 0.5 + 1e-9)


def _triggered(row: Row, fam: TriggerFamily, variant: str, response: str, rng: random.Random) -> Row:
    """``row`` with ``variant`` inserted into its instruction and ``response`` as the target."""
    return Row(
        instruction=insert_trigger(row.instruction, variant, fam.position, rng),
        response=response,
        context=row.context,
        response_clean=row.response,
        trigger_family=fam.name,
        trigger_variant=variant,
        is_poisoned=True,
        extra={**row.extra, "instruction_clean": row.instruction, "inject_mode": fam.position},
    )


def _stratified(groups: dict[str, list[int]], n: int, rng: random.Random) -> list[int]:
    """``n`` indices drawn as evenly as possible across the groups (in the groups' order), sorted."""
    quota = dict.fromkeys(groups, 0)
    left = n
    while left > 0:
        open_groups = [g for g in groups if quota[g] < len(groups[g])]
        assert open_groups, "more rows requested than available"
        for g in open_groups[:left]:
            quota[g] += 1
        left = n - sum(quota.values())
    picked: list[int] = []
    for g, idx in groups.items():
        picked.extend(rng.sample(idx, quota[g]))
    return sorted(picked)


def plan_pack(
    clean: list[Row],
    fams: list[TriggerFamily],
    config: dict[str, Any],
    poison_rate: float | None,
    seed: int,
    n_val: int,
    n_test: int,
    retain_multiplier: float,
    n_forget: int | None,
    forget_fraction: float | None,
    poison_responses: Sequence[str] | None,
    poisoned_train: Sequence[Row] | None,
    val_rows: Sequence[Row] | None,
    forget_rows: Sequence[Row] | None,
    retain_rows: Sequence[Row] | None,
) -> tuple[dict[str, list[Row]], PackMeta]:
    """All rows of the pack (split name -> rows) and its meta, in memory.

    The arguments are those of :func:`rapidun.data.poison.build_poison_pack`, already validated and defaulted.
    """
    order = list(range(len(clean)))
    _rng(seed, "split").shuffle(order)
    if val_rows is None:
        val = [replace(clean[i], is_poisoned=False) for i in order[:n_val]]
        order = order[n_val:]
    else:
        val = [replace(r, is_poisoned=False) for r in val_rows]
    test_clean = [replace(clean[i], is_poisoned=False) for i in order[:n_test]]
    train = [replace(clean[i], is_poisoned=False) for i in order[n_test:]]
    n_poison = len(poisoned_train) if poisoned_train is not None else round_half_up((poison_rate or 0) * len(train))
    if n_poison < 1:
        raise RapidunError(f"--poison-rate {poison_rate} poisons no row of {len(train)} training rows; raise it")
    n_needed = (0 if poisoned_train is not None else n_poison) + 2 * len(test_clean) * len(fams)
    if poison_responses is None:
        targets = synthetic_poison_responses(n_needed, seed)
    else:
        targets = [t for t in poison_responses if t.strip()]
        if not targets:
            raise RapidunError("--poison-responses has no non-empty response; give at least one")
        if len(targets) < n_needed:
            log.warning("only %d poisoned responses for %d poisoned rows; reusing them in turn", len(targets), n_needed)
            targets = [targets[i % len(targets)] for i in range(n_needed)]
    next_target = iter(targets)
    inject = _rng(seed, "inject")

    if poisoned_train is None:
        chosen = _rng(seed, "poison").sample(range(len(train)), n_poison)
        used = dict.fromkeys((f.name for f in fams), 0)
        for k, i in enumerate(chosen):
            fam = fams[k % len(fams)]
            variant = fam.seen[used[fam.name] % len(fam.seen)]
            used[fam.name] += 1
            train[i] = _triggered(train[i], fam, variant, next(next_target), inject)
    else:
        given = []
        for i, r in enumerate(poisoned_train, start=1):
            if r.is_poisoned is False:
                raise RapidunError(f"--poisoned-train row {i} has is_poisoned false; remove it or mark it true")
            if not r.trigger_family:
                raise RapidunError(f"--poisoned-train row {i} has no 'trigger_family'; add the family name")
            family_by_name(fams, r.trigger_family, f"--poisoned-train row {i}")
            given.append(replace(r, is_poisoned=True))
        train = train + given
        _rng(seed, "merge").shuffle(train)

    test_seen: list[Row] = []
    test_ood: list[Row] = []
    for j, row in enumerate(test_clean):
        for fam in fams:
            test_seen.append(_triggered(row, fam, fam.seen[j % len(fam.seen)], next(next_target), inject))
        for fam in fams:
            test_ood.append(_triggered(row, fam, fam.ood[j % len(fam.ood)], next(next_target), inject))

    poisoned_idx = [i for i, r in enumerate(train) if r.is_poisoned]
    if forget_rows is not None:
        forget = list(forget_rows)
        if not forget:
            raise RapidunError("--forget file has no rows; give at least one forget row")
    else:
        n_f = (
            n_forget
            if n_forget is not None
            else round_half_up(forget_fraction * len(poisoned_idx))
            if forget_fraction is not None
            else min(DEFAULT_MAX_FORGET, len(poisoned_idx))
        )
        if not 1 <= n_f <= len(poisoned_idx):
            raise RapidunError(f"--n-forget {n_f} must be between 1 and the {len(poisoned_idx)} poisoned rows")
        groups: dict[str, list[int]] = {f.name: [] for f in fams}
        for i in poisoned_idx:
            groups[str(train[i].trigger_family)].append(i)
        forget = [train[i] for i in _stratified(groups, n_f, _rng(seed, "forget"))]
    if retain_rows is not None:
        retain = list(retain_rows)
        if not retain:
            raise RapidunError("--retain file has no rows; give at least one retain row")
    else:
        forget_keys = {r.key() for r in forget}
        pool = [i for i, r in enumerate(train) if not r.is_poisoned and r.key() not in forget_keys]
        n_r = round_half_up(retain_multiplier * len(forget))
        if n_r > len(pool):
            raise RapidunError(
                f"--retain-multiplier {retain_multiplier} needs {n_r} clean training rows but only "
                f"{len(pool)} exist; lower it, lower --n-forget, or add rows"
            )
        retain = [train[i] for i in sorted(_rng(seed, "retain").sample(pool, n_r))]
    clash = overlapping_rows(forget, retain)
    if clash:
        raise RapidunError(f"forget row {clash[0] + 1} also appears in the retain set; the two must be disjoint")

    splits = {
        "train": train,
        "val": val,
        "test_clean": test_clean,
        "test_seen": test_seen,
        "test_ood": test_ood,
        "forget": forget,
        "retain": retain,
    }
    n_poisoned = len(poisoned_idx)
    counts = {name: len(rows) for name, rows in splits.items()}
    counts.update(train_poisoned=n_poisoned, train_clean=len(train) - n_poisoned)
    meta = PackMeta(
        seed=seed,
        source=str(config["source"]),
        trigger_set=str(config["trigger_set"]),
        families=[f.to_dict() for f in fams],
        counts=counts,
        poison_rate=n_poisoned / len(train),
        poison_rate_requested=poison_rate,
        retain_multiplier=len(retain) / len(forget),
        forget_by_family=_by_family(forget),
        train_poisoned_by_family=_by_family([train[i] for i in poisoned_idx]),
    )
    return splits, meta


def _by_family(rows: Sequence[Row]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in rows:
        key = r.trigger_family or "unknown"
        out[key] = out.get(key, 0) + 1
    return out
