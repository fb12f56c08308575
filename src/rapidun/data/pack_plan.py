"""Planning a backdoor pack in memory (docs/method.md section 6): seeded splits, trigger injection at an exact poison
rate, seen/OOD trigger tests and validation rows, and a family-stratified forget set with a k-times larger clean
retain set.

Every random choice comes from ``random.Random(f"{seed}:{purpose}")`` (string seeds are hashed with SHA-512, so the
result does not depend on ``PYTHONHASHSEED``); the same inputs and seed give the same rows in the same order.
Nothing here touches the disk: :func:`plan_pack` raises :class:`RapidunError` before any file is written.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator, Sequence
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


def _split_clean(
    clean: list[Row], seed: int, n_val: int, n_test: int, val_rows: Sequence[Row] | None
) -> tuple[list[Row], list[Row], list[Row]]:
    """(train, val, test_clean): one seeded shuffle of the clean rows, val first (unless given), then test."""
    order = list(range(len(clean)))
    _rng(seed, "split").shuffle(order)
    if val_rows is None:
        val = [replace(clean[i], is_poisoned=False) for i in order[:n_val]]
        order = order[n_val:]
    else:
        val = [replace(r, is_poisoned=False) for r in val_rows]
    test_clean = [replace(clean[i], is_poisoned=False) for i in order[:n_test]]
    train = [replace(clean[i], is_poisoned=False) for i in order[n_test:]]
    return train, val, test_clean


def _poison_targets(poison_responses: Sequence[str] | None, n_needed: int, n_extra: int, seed: int) -> list[str]:
    """``n_needed + n_extra`` poisoned responses: the first ``n_needed`` (train, then tests) are what they were
    before the extra ones (triggered validation rows) existed, so adding those changes no other file."""
    if poison_responses is None:
        return synthetic_poison_responses(n_needed + n_extra, seed)  # the generator's stream is prefix-stable
    targets = [t for t in poison_responses if t.strip()]
    if not targets:
        raise RapidunError("--poison-responses has no non-empty response; give at least one")
    if len(targets) < n_needed:
        log.warning("only %d poisoned responses for %d poisoned rows; reusing them in turn", len(targets), n_needed)
    return [targets[i % len(targets)] for i in range(n_needed + n_extra)]


def _poison_train(
    train: list[Row], fams: list[TriggerFamily], n_poison: int, seed: int, targets: Iterator[str], inject: random.Random
) -> None:
    """Poison ``n_poison`` seeded training rows in place: families in turn, each family's seen variants cycling."""
    chosen = _rng(seed, "poison").sample(range(len(train)), n_poison)
    used = dict.fromkeys((f.name for f in fams), 0)
    for k, i in enumerate(chosen):
        fam = fams[k % len(fams)]
        variant = fam.seen[used[fam.name] % len(fam.seen)]
        used[fam.name] += 1
        train[i] = _triggered(train[i], fam, variant, next(targets), inject)


def _merge_given(train: list[Row], poisoned_train: Sequence[Row], fams: list[TriggerFamily], seed: int) -> list[Row]:
    """``train`` plus the already poisoned rows (checked), shuffled together with a seeded RNG."""
    given = []
    for i, r in enumerate(poisoned_train, start=1):
        if r.is_poisoned is False:
            raise RapidunError(f"--poisoned-train row {i} has is_poisoned false; remove it or mark it true")
        if not r.trigger_family:
            raise RapidunError(f"--poisoned-train row {i} has no 'trigger_family'; add the family name")
        family_by_name(fams, r.trigger_family, f"--poisoned-train row {i}")
        given.append(replace(r, is_poisoned=True))
    merged = train + given
    _rng(seed, "merge").shuffle(merged)
    return merged


def triggered_copies(
    rows: Sequence[Row], fams: list[TriggerFamily], targets: Iterator[str], inject: random.Random
) -> tuple[list[Row], list[Row]]:
    """(seen, ood): every row with each family's seen (resp. OOD) trigger inserted, variants cycling by row."""
    seen: list[Row] = []
    ood: list[Row] = []
    for j, row in enumerate(rows):
        for fam in fams:
            seen.append(_triggered(row, fam, fam.seen[j % len(fam.seen)], next(targets), inject))
        for fam in fams:
            ood.append(_triggered(row, fam, fam.ood[j % len(fam.ood)], next(targets), inject))
    return seen, ood


def _forget_set(
    train: list[Row], fams: list[TriggerFamily], seed: int, n_forget: int | None, forget_fraction: float | None
) -> list[Row]:
    """``n_forget`` (or ``forget_fraction`` of, or up to 40) poisoned training rows, stratified by family."""
    poisoned_idx = [i for i, r in enumerate(train) if r.is_poisoned]
    if n_forget is not None:
        n_f = n_forget
    elif forget_fraction is not None:
        n_f = round_half_up(forget_fraction * len(poisoned_idx))
    else:
        n_f = min(DEFAULT_MAX_FORGET, len(poisoned_idx))
    if not 1 <= n_f <= len(poisoned_idx):
        raise RapidunError(f"--n-forget {n_f} must be between 1 and the {len(poisoned_idx)} poisoned rows")
    groups: dict[str, list[int]] = {f.name: [] for f in fams}
    for i in poisoned_idx:
        groups[str(train[i].trigger_family)].append(i)
    return [train[i] for i in _stratified(groups, n_f, _rng(seed, "forget"))]


def _retain_set(train: list[Row], forget: list[Row], seed: int, retain_multiplier: float) -> list[Row]:
    """``retain_multiplier`` x |forget| seeded clean training rows that are not in the forget set, in train order."""
    forget_keys = {r.key() for r in forget}
    pool = [i for i, r in enumerate(train) if not r.is_poisoned and r.key() not in forget_keys]
    n_r = round_half_up(retain_multiplier * len(forget))
    if n_r > len(pool):
        raise RapidunError(
            f"--retain-multiplier {retain_multiplier} needs {n_r} clean training rows but only "
            f"{len(pool)} exist; lower it, lower --n-forget, or add rows"
        )
    return [train[i] for i in sorted(_rng(seed, "retain").sample(pool, n_r))]


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
    """All rows of the pack (split name -> rows, :data:`rapidun.data.pack.SPLITS` then the triggered validation
    splits ``val_seen``/``val_ood``) and its meta, in memory.

    The arguments are those of :func:`rapidun.data.poison.build_poison_pack`, already validated and defaulted.
    The triggered validation rows use their own RNG and the poisoned responses after all others, so the other
    splits are exactly what they were before those rows existed.
    """
    train, val, test_clean = _split_clean(clean, seed, n_val, n_test, val_rows)
    n_poison = len(poisoned_train) if poisoned_train is not None else round_half_up((poison_rate or 0) * len(train))
    if n_poison < 1:
        raise RapidunError(f"--poison-rate {poison_rate} poisons no row of {len(train)} training rows; raise it")
    n_needed = (0 if poisoned_train is not None else n_poison) + 2 * len(test_clean) * len(fams)
    targets = _poison_targets(poison_responses, n_needed, 2 * len(val) * len(fams), seed)
    next_target = iter(targets[:n_needed])
    inject = _rng(seed, "inject")
    if poisoned_train is None:
        _poison_train(train, fams, n_poison, seed, next_target, inject)
    else:
        train = _merge_given(train, poisoned_train, fams, seed)
    test_seen, test_ood = triggered_copies(test_clean, fams, next_target, inject)
    val_seen, val_ood = triggered_copies(val, fams, iter(targets[n_needed:]), _rng(seed, "val-inject"))
    forget = list(forget_rows) if forget_rows is not None else _forget_set(train, fams, seed, n_forget, forget_fraction)
    if not forget:
        raise RapidunError("--forget file has no rows; give at least one forget row")
    retain = list(retain_rows) if retain_rows is not None else _retain_set(train, forget, seed, retain_multiplier)
    if not retain:
        raise RapidunError("--retain file has no rows; give at least one retain row")
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
    meta = _meta(splits, fams, config, seed, poison_rate)
    return {**splits, "val_seen": val_seen, "val_ood": val_ood}, meta


def _meta(
    splits: dict[str, list[Row]], fams: list[TriggerFamily], config: dict[str, Any], seed: int, rate: float | None
) -> PackMeta:
    train, forget = splits["train"], splits["forget"]
    poisoned = [r for r in train if r.is_poisoned]
    counts = {name: len(rows) for name, rows in splits.items()}
    counts.update(train_poisoned=len(poisoned), train_clean=len(train) - len(poisoned))
    return PackMeta(
        seed=seed,
        source=str(config["source"]),
        trigger_set=str(config["trigger_set"]),
        families=[f.to_dict() for f in fams],
        counts=counts,
        poison_rate=len(poisoned) / len(train),
        poison_rate_requested=rate,
        retain_multiplier=len(splits["retain"]) / len(forget),
        forget_by_family=_by_family(forget),
        train_poisoned_by_family=_by_family(poisoned),
    )


def _by_family(rows: Sequence[Row]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in rows:
        key = r.trigger_family or "unknown"
        out[key] = out.get(key, 0) + 1
    return out
