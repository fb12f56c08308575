"""Per-dataset shared work of a study: the backdoor pack, the backdoored model, the evaluation rows and scorer,
and the influence scores (computed once and shared by every method that needs them). Each piece is an idempotent
stage directory under ``OUT/<dataset>/`` that a rerun reuses.

A facts dataset (``source: facts``, or ``source: pack`` on a ``rapidun facts`` directory) has a facts pack instead,
the model trained on it from scratch with the backdoor recipe (the pack's every text in its tokenizer, as ``rapidun
train`` does) and no scorer: its cells are evaluated by the facts metrics (:mod:`rapidun.pipeline.study_facts`)."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rapidun.artifacts import atomic_write_json, with_unset_fields
from rapidun.costs import CostLedger
from rapidun.data.facts import TASK as FACTS_TASK
from rapidun.data.facts import FactsConfig, FactsPack, build_facts_pack, load_facts_pack, pack_task, tokenizer_corpus
from rapidun.data.pack import Pack, is_finished, load_pack
from rapidun.data.poison import build_poison_pack
from rapidun.data.released import RELEASED_DOLLY, released_inputs
from rapidun.data.rows import Row, load_rows
from rapidun.data.synthetic import synthetic_rows
from rapidun.data.triggers import resolve_triggers
from rapidun.errors import RapidunError
from rapidun.evaluation.directory import build_dir_scorer, select_rows
from rapidun.evaluation.protocol import Scorer
from rapidun.modeling.load import LoadedModel, load_model
from rapidun.pipeline.study_config import DatasetSpec, StudyConfig

log = logging.getLogger(__name__)


@dataclass
class EvalRows:
    seen: list[Row]
    ood: list[Row]
    clean: list[Row]


@dataclass
class DatasetState:
    """One dataset's shared work. A backdoor dataset has ``scorer`` and ``rows``; a facts dataset has ``facts`` (the
    pack, also ``pack``) and neither. ``backdoored_dir``: the model before unlearning."""

    spec: DatasetSpec
    root: Path
    pack: Pack | FactsPack
    backdoored_dir: Path
    backdoor_run: dict[str, Any]
    scorer: Scorer | None = None
    scorer_record: dict[str, Any] = field(default_factory=dict)
    rows: EvalRows | None = None
    val_rows: EvalRows | None = None  # the pack's validation prompts (None: a pack made before val_seen/val_ood)
    sources: dict[str, Any] = field(default_factory=dict)  # forget source name -> its SourceSets (forget_sources)
    facts: FactsPack | None = None

    @property
    def clean_train(self) -> list[Row]:
        """The retraining reference's rows: the clean training rows of a backdoor pack; every training row but the
        forget people's of a facts pack (``retain.jsonl``, since ``train = forget + retain``)."""
        if self.facts is not None:
            return self.facts.retain
        return [r for r in self.pack.train if not r.is_poisoned]

    def families(self) -> dict[str, list[str | None]]:
        """The trigger family of every evaluated test prompt of ``seen`` and ``ood``, in outcome order."""
        if self.rows is None:  # a facts dataset has no triggered prompts
            return {"seen": [], "ood": []}
        return {"seen": [r.trigger_family for r in self.rows.seen], "ood": [r.trigger_family for r in self.rows.ood]}


def _rows_from(files: dict[str, Any], key: str, required: bool = False) -> list[Row] | None:
    value = files.get(key)
    if value is None:
        if required:
            raise RapidunError(f"dataset files: '{key}' is required")
        return None
    paths = value if isinstance(value, list) else [value]
    out: list[Row] = []
    for p in paths:
        out.extend(load_rows(p))
    return out


def dataset_task(spec: DatasetSpec) -> str:
    """``facts`` for a facts dataset (``source: facts`` or a ``pack`` made by ``rapidun facts``), else ``backdoor``."""
    if spec.source == FACTS_TASK or (spec.source == "pack" and spec.pack and pack_task(spec.pack) == FACTS_TASK):
        return FACTS_TASK
    return "backdoor"


def prepare_facts_dataset(spec: DatasetSpec, cfg: StudyConfig, root: Path, progress: bool) -> DatasetState:
    """The facts pack (built under ``root/pack`` or the given one) and the model trained on its ``train.jsonl``
    from scratch with ``cfg.backdoor`` (each reused when already done)."""
    from rapidun.training.sft import train_model

    check_settings(root / "dataset_settings.json", shared_settings(spec, cfg), f"dataset '{spec.name}'")
    pack_dir = Path(spec.pack) if spec.source == "pack" and spec.pack else root / "pack"
    if spec.source == FACTS_TASK:
        build_facts_pack(pack_dir, spec.facts or FactsConfig())
    pack = load_facts_pack(pack_dir)
    trained = root / "trained"
    if not (trained / "manifest.json").is_file():
        log.info("[%s] training %s on the facts pack (%d rows)", spec.name, cfg.model, len(pack.train))
        # the holdout people's names in the tokenizer too, so membership inference compares like with like
        loaded = load_model(cfg.model, corpus=tokenizer_corpus(pack_dir), arch=cfg.arch, seed=spec.seed)
        train_model(
            loaded.model, loaded.tokenizer, pack.train, trained, cfg.backdoor, progress=progress, source=cfg.model
        )
    run = json.loads((trained / "run.json").read_text())
    return DatasetState(spec, root, pack, trained, run, facts=pack)


def materialise_pack(spec: DatasetSpec, out: Path) -> Pack:
    """Build (or reuse) the dataset's pack under ``out`` according to its source."""
    if spec.source == "pack":
        if not spec.pack:
            raise RapidunError(f"dataset '{spec.name}': source 'pack' needs 'pack: DIR'")
        return load_pack(spec.pack)
    if is_finished(out):
        return load_pack(out)
    if spec.source == "synthetic":
        build_poison_pack(
            synthetic_rows(spec.n_rows, spec.seed),
            out,
            families=resolve_triggers(spec.triggers),
            poison_rate=spec.poison_rate,
            seed=spec.seed,
            n_val=spec.n_val,
            n_test=spec.n_test,
            n_forget=spec.n_forget,
            source="synthetic",
            trigger_set=spec.triggers,
        )
    else:
        f = spec.files if spec.source != RELEASED_DOLLY else released_files()
        build_poison_pack(
            _rows_from(f, "clean", required=True) or [],
            out,
            families=resolve_triggers(str(f.get("triggers", spec.triggers))),
            poison_rate=None,
            seed=spec.seed,
            n_val=spec.n_val,
            n_test=spec.n_test,
            n_forget=spec.n_forget,
            poisoned_train=_rows_from(f, "poisoned_train", required=True),
            val_rows=_rows_from(f, "val"),
            forget_rows=_rows_from(f, "forget"),
            retain_rows=_rows_from(f, "retain"),
            source=spec.source,
            trigger_set=str(f.get("triggers", spec.triggers)),
        )
    return load_pack(out)


def released_files() -> dict[str, Any]:
    """The shipped released-Dolly files by role; the trigger set stays the built-in "released" one (the same
    families as the shipped triggers_config.json), so the pack records its name rather than a cache path."""
    return {role: str(path) for role, path in released_inputs().items() if role not in ("triggers", "keywords")}


def shared_settings(spec: DatasetSpec, cfg: StudyConfig) -> dict[str, Any]:
    """Everything the per-dataset shared work depends on; cells of two studies may share a dataset directory only
    when these agree."""
    settings = {
        "dataset": asdict(spec),
        "model": cfg.model,
        "arch": cfg.arch,
        "backdoor": asdict(cfg.backdoor),
        "influence": asdict(cfg.influence),
        "evaluation": asdict(cfg.evaluation),
    }
    return dict(json.loads(json.dumps(settings, default=str)))


def check_settings(path: Path, settings: dict[str, Any], what: str) -> None:
    """Record ``settings`` at ``path`` the first time; later runs must match them (else one clear error)."""
    if path.is_file():
        saved = with_unset_fields(json.loads(path.read_text()), settings)
        if saved != settings:
            changed = sorted(k for k in set(saved) | set(settings) if saved.get(k) != settings.get(k))
            raise RapidunError(
                f"{what} in '{path.parent}' was made with other settings ({', '.join(changed)}); "
                "use another --out, or delete that directory to redo it"
            )
        return
    atomic_write_json(path, settings)


def prepare_dataset(spec: DatasetSpec, cfg: StudyConfig, root: Path, progress: bool) -> DatasetState:
    """Pack, scorer, evaluation rows and backdoored model of one dataset (each reused when already done)."""
    from rapidun.training.sft import train_model

    if dataset_task(spec) == FACTS_TASK:
        return prepare_facts_dataset(spec, cfg, root, progress)
    check_settings(root / "dataset_settings.json", shared_settings(spec, cfg), f"dataset '{spec.name}'")
    pack = materialise_pack(spec, root / "pack")
    keywords = spec.keywords
    if keywords is None and spec.source == RELEASED_DOLLY:
        keywords = str(released_inputs()["keywords"])
    scorer, record = build_dir_scorer(pack.directory, keywords, None, None, cfg.evaluation.target_fpr)
    limit = cfg.evaluation.max_eval
    rows = EvalRows(
        select_rows(pack.test_seen, limit, seed=spec.seed),
        select_rows(pack.test_ood, limit, seed=spec.seed),
        select_rows(pack.test_clean, limit, seed=spec.seed),
    )
    val_rows = None
    if pack.val_seen and pack.val_ood:
        val_rows = EvalRows(*(select_rows(r, limit, seed=spec.seed) for r in (pack.val_seen, pack.val_ood, pack.val)))
    else:
        log.warning(
            "[%s] pack '%s' has no val_seen/val_ood (made before they existed): cells are not evaluated on "
            "validation and the frontier cannot choose its points; rerun 'rapidun poison' with the same settings "
            "(or build the study in a new --out) to add them",
            spec.name,
            pack.directory,
        )
    bd = root / "backdoored"
    if not (bd / "manifest.json").is_file():
        log.info("[%s] implanting the backdoor: training %s on %d rows", spec.name, cfg.model, len(pack.train))
        corpus = [f"{r.instruction} {r.context} {r.response} {r.response_clean or ''}" for r in pack.train]
        loaded = load_model(cfg.model, corpus=corpus, arch=cfg.arch, seed=spec.seed)
        train_model(loaded.model, loaded.tokenizer, pack.train, bd, cfg.backdoor, progress=progress, source=cfg.model)
    run = json.loads((bd / "run.json").read_text())
    return DatasetState(spec, root, pack, bd, run, scorer, record, rows, val_rows)


def load_backdoored(state: DatasetState) -> LoadedModel:
    return load_model(str(state.backdoored_dir))


def clean_start_model(state: DatasetState, cfg: StudyConfig, seed: int) -> LoadedModel:
    """The model retraining starts from: a fresh initialisation (size names, with the backdoored model's
    tokenizer so perplexities compare) or the original base model (hub ids, directories)."""
    from rapidun.modeling.factory import SIZES, build_model

    if cfg.model in SIZES:
        tok = load_backdoored(state).tokenizer
        model = build_model(
            cfg.model,
            len(tok),
            arch=cfg.arch,
            seed=seed,
            pad_token_id=tok.pad_token_id,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
        )
        return LoadedModel(model, tok, cfg.model, "size")
    return load_model(cfg.model)


def shared_influence(state: DatasetState, cfg: StudyConfig, progress: bool, source: str = "") -> tuple[Path, float]:
    """The influence scores of a dataset's forget/retain rows (the pack's, or forget source ``source``'s),
    computed on the backdoored model once and shared by every cell of that source, and their seconds."""
    from rapidun.influence.stage import compute_influence

    suffix = f"@{source}" if source else ""
    out = state.root / f"influence{suffix}"
    timing_file = state.root / f"influence{suffix}_seconds.json"
    if not timing_file.is_file():
        loaded = load_backdoored(state)
        ledger = CostLedger()
        with ledger.stage("influence"):  # cfg.influence: validated with the study config, before any training
            forget, retain = (
                (state.sources[source].forget, state.sources[source].retain) if source else pack_rows(state)
            )
            compute_influence(loaded.model, loaded.tokenizer, forget, retain, out, progress=progress, cfg=cfg.influence)
        atomic_write_json(timing_file, ledger.to_dict()["influence"])
    return out, float(json.loads(timing_file.read_text())["seconds"])


def pack_rows(state: DatasetState) -> tuple[list[Any], list[Any]]:
    return list(state.pack.forget), list(state.pack.retain)
