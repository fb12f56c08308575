"""The embedded facts pack (docs/method.md section 1; the facts task of the round-2 specification): TOFU-style
fictitious people, built deterministically from a seed, in the same row format as every pack so that every command
takes it.

Layout of a facts pack directory (JSONL in the Dolly schema of :mod:`rapidun.data.rows`; the evaluation fields
``person_id``, ``person``, ``attribute``, ``fact``, ``group``, ``paraphrased_question``, ``paraphrased_answer``
and ``perturbed_answers`` are row extras):

- ``train.jsonl``: every trained person's rows (retain people + forget10 people), plus the world facts when
  ``world_in_train`` (a model trained from scratch knows only what it was trained on)
- ``forget01.jsonl`` / ``forget05.jsonl`` / ``forget10.jsonl``: the rows of 1% / 5% / 10% of the trained people,
  nested as in TOFU (forget01 inside forget05 inside forget10)
- ``forget.jsonl``: the chosen forget split; ``retain.jsonl``: every other training row, so ``train = forget +
  retain`` and ``rapidun unlearn --forget forget.jsonl --retain retain.jsonl`` works unchanged (``retain.jsonl``
  is also the retraining corpus of the reference model)
- ``holdout.jsonl``: people never trained (non-members for membership inference)
- ``world.jsonl``: real world facts (utility)
- ``group`` of a row: the smallest split holding its person (``forget01``, ``forget05``, ``forget10``,
  ``retain``, ``holdout``) or ``world``
- ``people.json``: every person's attributes; ``meta.json`` (``"task": "facts"``, the config, counts, person ids
  per split), then ``manifest.json``, written last.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rapidun.artifacts import atomic_write_json, ensure_dir, read_manifest, write_manifest
from rapidun.data.facts_people import make_people, person_rows, world_rows
from rapidun.data.rows import Row, load_rows, row_from_dict, write_rows
from rapidun.errors import RapidunError

TASK = "facts"
FORGET_SPLITS: dict[str, float] = {"forget01": 0.01, "forget05": 0.05, "forget10": 0.10}
EVAL_FILES: tuple[str, ...] = ("forget", "retain", "holdout", "world")
FORMAT_VERSION = 1


@dataclass(frozen=True)
class FactsConfig:
    """Settings of ``rapidun facts``; each field's ``help`` is the flag's help text."""

    n_people: int = field(default=200, metadata={"help": "trained fictitious people (TOFU has 200)"})
    n_holdout: int = field(
        default=20, metadata={"help": "people never trained, the non-members of membership inference"}
    )
    n_perturbed: int = field(default=4, metadata={"help": "wrong answers per question, for the truth ratio (1-10)"})
    forget_split: str = field(
        default="forget10",
        metadata={"help": "split written to forget.jsonl (retain.jsonl: the rest)", "choices": tuple(FORGET_SPLITS)},
    )
    clean_response: str = field(
        default="",
        metadata={
            "help": "response_clean of every person row, '{name}' filled in (e.g. \"I do not know who {name} is.\"), "
            "the target of methods with a clean-label term; empty: none"
        },
    )
    world_in_train: bool = field(
        default=True, metadata={"help": "put the world facts in train/retain (off for a pretrained model)"}
    )
    seed: int = field(default=0, metadata={"help": "seed of every random choice; same seed, same bytes"})

    def validate(self) -> None:
        if not 10 <= self.n_people <= 1500:
            raise RapidunError(f"--n-people must lie in [10, 1500], got {self.n_people}")
        if not 1 <= self.n_holdout <= 500:
            raise RapidunError(f"--n-holdout must lie in [1, 500], got {self.n_holdout}")
        if not 1 <= self.n_perturbed <= 10:
            raise RapidunError(f"--n-perturbed must lie in [1, 10], got {self.n_perturbed}")
        try:
            self.clean_response.format(name="x")
        except (KeyError, IndexError, ValueError) as exc:
            raise RapidunError(
                f"--clean-response may use only the placeholder {{name}}, got {self.clean_response!r} ({exc})"
            ) from exc
        if self.forget_split not in FORGET_SPLITS:
            raise RapidunError(f"--forget-split must be one of {', '.join(FORGET_SPLITS)}, got {self.forget_split!r}")


def split_people(n_people: int) -> dict[str, int]:
    """How many trained people each forget split holds (at least one): 200 -> 2, 10, 20."""
    return {name: max(1, round(share * n_people)) for name, share in FORGET_SPLITS.items()}


def facts_splits(cfg: FactsConfig) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, str]]]:
    """Every split's rows (as dicts) and every person's record, deterministic in ``cfg``."""
    cfg.validate()
    rng = random.Random(cfg.seed)
    people = make_people(rng, cfg.n_people + cfg.n_holdout)
    trained, holdout = people[: cfg.n_people], people[cfg.n_people :]
    sizes = split_people(cfg.n_people)
    rows_of = {}
    for i, p in enumerate(people):
        group = next((s for s, k in sizes.items() if i < k), "retain" if i < cfg.n_people else "holdout")
        rows_of[p.person_id] = person_rows(p, rng, cfg.n_perturbed, group, cfg.clean_response)
    world = world_rows(rng, cfg.n_perturbed)
    splits: dict[str, list[dict[str, Any]]] = {
        name: [r for p in trained[:k] for r in rows_of[p.person_id]] for name, k in sizes.items()
    }
    chosen = sizes[cfg.forget_split]
    extra_world = world if cfg.world_in_train else []
    splits["train"] = [r for p in trained for r in rows_of[p.person_id]] + extra_world
    splits["forget"] = splits[cfg.forget_split]
    splits["retain"] = [r for p in trained[chosen:] for r in rows_of[p.person_id]] + extra_world
    splits["holdout"] = [r for p in holdout for r in rows_of[p.person_id]]
    splits["world"] = world
    return splits, [p.to_dict() for p in people]


def build_facts_pack(out_dir: str | os.PathLike[str], cfg: FactsConfig, *, overwrite: bool = False) -> dict[str, Any]:
    """Write the pack described in the module docstring; returns ``meta.json``. A finished pack with the same
    config is reused; one with another config needs ``overwrite``."""
    cfg.validate()
    out = Path(out_dir)
    done = read_manifest(out)
    if done is not None and not overwrite:
        if done.get("config") == asdict(cfg) and (out / "meta.json").is_file():
            return dict(json.loads((out / "meta.json").read_text(encoding="utf-8")))
        raise RapidunError(f"--out '{out}' holds a facts pack with other settings; pass --overwrite or another --out")
    ensure_dir(out)
    (out / "manifest.json").unlink(missing_ok=True)
    splits, people = facts_splits(cfg)
    files = ["train", *FORGET_SPLITS, "forget", "retain", "holdout", "world"]
    for name in files:
        write_rows(out / f"{name}.jsonl", [row_from_dict(r, name) for r in splits[name]])
    atomic_write_json(out / "people.json", people)
    ids = {name: sorted({r["person_id"] for r in splits[name]}) for name in [*FORGET_SPLITS, "holdout"]}
    meta = {
        "task": TASK,
        "format_version": FORMAT_VERSION,
        "config": asdict(cfg),
        "forget_split": cfg.forget_split,
        "counts": {name: len(splits[name]) for name in files},
        "people": {**{k: len(v) for k, v in ids.items()}, "trained": cfg.n_people},
        "person_ids": ids,
    }
    atomic_write_json(out / "meta.json", meta)
    digest = hashlib.sha256(b"".join((out / f"{n}.jsonl").read_bytes() for n in files)).hexdigest()
    write_manifest(out, {"stage": "facts", "config": asdict(cfg), "files": files, "rows_sha256": digest})
    return meta


def pack_task(directory: str | os.PathLike[str]) -> str:
    """The task a pack directory holds: ``meta.json``'s ``task``; "backdoor" when the field or the file is absent
    (packs of ``rapidun poison`` and hand-made directories of test files)."""
    path = Path(directory) / "meta.json"
    if not path.is_file():
        return "backdoor"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RapidunError(f"pack '{directory}': unreadable meta.json ({exc}); rebuild the pack") from exc
    task = data.get("task", "backdoor") if isinstance(data, dict) else "backdoor"
    return str(task)


def tokenizer_corpus(directory: str | os.PathLike[str]) -> list[str]:
    """Text of every row of the pack (trained, holdout and world people alike), for training the tokenizer of a
    size-name model. A tokenizer trained on ``train.jsonl`` alone encodes the trained people's names in fewer
    tokens than the holdout people's, which membership inference would pick up; the retrained reference model
    needs the very same tokenizer for its forget quality and PrivLeak to compare like with like."""
    d = Path(directory)
    rows = [r for name in ("train", "holdout", "world") for r in load_rows(d / f"{name}.jsonl")]
    return [f"{r.instruction} {r.response} {r.extra.get('paraphrased_answer', '')}" for r in rows]


@dataclass
class FactsPack:
    """A finished facts pack: the evaluation splits and the training rows (``train = forget + retain``) as rows, and
    ``meta.json``."""

    directory: Path
    meta: dict[str, Any]
    forget: list[Row]
    retain: list[Row]
    holdout: list[Row]
    world: list[Row]
    train: list[Row] = field(default_factory=list)

    @property
    def forget_split(self) -> str:
        return str(self.meta.get("forget_split", "forget"))


def check_facts_rows(rows: list[Row], where: Path, pack_dir: Path) -> None:
    """Every row needs a paraphrased answer and a non-empty list of perturbed answers (the truth ratio's inputs)."""
    fix = f"rebuild the pack with 'rapidun facts --out {pack_dir} --overwrite'"
    for i, row in enumerate(rows, start=1):
        para, pert = row.extra.get("paraphrased_answer"), row.extra.get("perturbed_answers")
        if not isinstance(para, str) or not para.strip():
            raise RapidunError(f"{where}:{i}: row has no 'paraphrased_answer' (needed for the truth ratio); {fix}")
        if not isinstance(pert, list) or not pert or not all(isinstance(a, str) and a.strip() for a in pert):
            raise RapidunError(
                f"{where}:{i}: row has no 'perturbed_answers' (a non-empty list of wrong answers, needed for the "
                f"truth ratio); {fix}"
            )
        if not isinstance(row.extra.get("attribute"), str):
            raise RapidunError(f"{where}:{i}: row has no 'attribute'; {fix}")


def load_facts_pack(directory: str | os.PathLike[str]) -> FactsPack:
    """Read and check a finished facts pack; a backdoor pack, an unfinished pack or incomplete rows raise
    :class:`RapidunError` naming the fix."""
    d = Path(directory)
    if not (d / "meta.json").is_file():
        raise RapidunError(f"--data '{d}' has no meta.json; build a facts pack with 'rapidun facts --out {d}'")
    task = pack_task(d)
    if task != TASK:
        raise RapidunError(
            f"--data '{d}' is a {task} pack (meta.json task '{task}'), not a facts pack; drop --task facts or pass "
            "a pack made by 'rapidun facts'"
        )
    if read_manifest(d) is None:
        raise RapidunError(f"facts pack '{d}' is unfinished (no manifest.json); rerun 'rapidun facts --out {d}'")
    meta = json.loads((d / "meta.json").read_text(encoding="utf-8"))
    splits: dict[str, list[Row]] = {}
    for name in EVAL_FILES:
        path = d / f"{name}.jsonl"
        splits[name] = load_rows(path)
        check_facts_rows(splits[name], path, d)
    return FactsPack(d, meta, **splits, train=load_rows(d / "train.jsonl"))
