"""Flat API, first half: make a backdoor and measure it (``poison``, ``train``, ``evaluate``). Each function takes
paths and settings, writes the same directory as the CLI command of the same name and returns a result dataclass
(:mod:`rapidun.api.results`). Settings are keyword fields of the stage's config dataclass, checked before any
model loads; an unknown name or a bad value raises :class:`~rapidun.errors.RapidunError`."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from rapidun.api.console import hide_hub_progress_bars, progress_wanted, quiet_third_party
from rapidun.api.results import EvaluationResult, PackResult, TrainResult
from rapidun.errors import RapidunError

PathLike = str | os.PathLike[str]


def typed_config(cls: Any, config: Any, settings: dict[str, Any], where: str) -> Any:
    """``config`` (or the defaults) with ``settings`` set on top, type-checked and validated."""
    from rapidun.settings import from_mapping, validate_tree

    if config is not None and not isinstance(config, cls):
        raise RapidunError(f"{where}: config must be a {cls.__name__}, got {type(config).__name__}")
    base = dataclasses.asdict(config) if config is not None else {}
    cfg = from_mapping(cls, {**{k: v for k, v in base.items() if v is not None}, **settings}, where)
    validate_tree(cfg)
    return cfg


def start(progress: bool | None) -> bool:
    """Quiet third-party noise and decide on progress bars (None: only when stderr is a terminal)."""
    quiet_third_party()
    shown = progress_wanted(progress)
    if not shown:
        hide_hub_progress_bars()
    return shown


def poison(
    data: str | PathLike, out: PathLike, *, overwrite: bool = False, config: Any = None, **settings: Any
) -> PackResult:
    """Build a backdoor data pack in ``out`` (``rapidun poison``).

    ``data``: ``"synthetic"`` (the embedded generator), ``"released-dolly"`` (the released RapidUn Dolly packs
    shipped with rapidun, the same pack as the README's long command) or a clean ``.json``/``.jsonl`` rows file.
    Settings: fields of :class:`rapidun.data.pack_config.PackConfig` (``triggers``, ``poison_rate``, ``seed``,
    ``n_rows``, ``n_val``, ``n_test``, ``n_forget``, ...). Returns the split files and their counts."""
    from rapidun.data.checks import check_triggers, check_unique
    from rapidun.data.pack import load_pack
    from rapidun.data.pack_config import PackConfig
    from rapidun.data.poison import build_poison_pack
    from rapidun.data.released import RELEASED_DOLLY, RELEASED_N_TEST, released_inputs
    from rapidun.data.rows import load_rows
    from rapidun.data.synthetic import synthetic_rows
    from rapidun.data.triggers import resolve_triggers

    start(False)
    source = str(data)
    extra: dict[str, Any] = {}
    if source == RELEASED_DOLLY:  # the shipped files, as `rapidun poison --data released-dolly` reads them
        files = released_inputs()
        settings = {"n_test": RELEASED_N_TEST, **settings}
        extra = {
            "val_rows": load_rows(files["val"]),
            "poisoned_train": load_rows(files["poisoned_train"]),
            "forget_rows": load_rows(files["forget"]),
            "retain_rows": load_rows(files["retain"]),
        }
    cfg: PackConfig = typed_config(PackConfig, config, settings, "rapidun.poison")
    if source == "synthetic":
        clean = synthetic_rows(cfg.n_rows, cfg.seed)
    else:
        clean = load_rows(released_inputs()["clean"] if source == RELEASED_DOLLY else source)
        check_unique(clean, f"data {source}")
    families = resolve_triggers(cfg.triggers, list(cfg.families) if cfg.families else None)
    check_triggers(families)
    build_poison_pack(
        clean,
        out,
        families=families,
        poison_rate=None if "poisoned_train" in extra else cfg.poison_rate,
        seed=cfg.seed,
        n_val=cfg.n_val,
        n_test=cfg.n_test,
        retain_multiplier=cfg.retain_multiplier,
        n_forget=cfg.n_forget,
        source=source,
        trigger_set=cfg.triggers,
        overwrite=overwrite,
        **extra,
    )
    pack = load_pack(out)
    names = ["train", "val", "test_clean", "test_seen", "test_ood", "forget", "retain"]
    files_out = {n: Path(out) / f"{n}.jsonl" for n in names} | {"keywords": Path(out) / "keywords.tsv"}
    meta = json.loads((Path(out) / "meta.json").read_text(encoding="utf-8"))
    return PackResult(Path(out), files_out, dict(pack.meta.counts), meta)


def _train_rows_file(data: PathLike) -> Path:
    p = Path(data)
    return p / "train.jsonl" if p.is_dir() else p


def train(
    model: str,
    data: PathLike,
    out: PathLike,
    *,
    lora: bool = False,
    arch: str = "llama",
    overwrite: bool = False,
    progress: bool | None = None,
    device: str = "auto",
    config: Any = None,
    **settings: Any,
) -> TrainResult:
    """Fine-tune ``model`` (a size name, a local model directory or a hub id) on ``data`` (a rows file or a pack,
    whose ``train.jsonl`` is used) and save it to ``out`` (``rapidun train``); ``lora=True`` trains a LoRA
    adapter. Settings: fields of :class:`rapidun.training.sft.TrainConfig` (``epochs``, ``lr``, ``batch_size``,
    ``max_length``, ``max_steps``, ``seed``, ...). An interrupted run in ``out`` resumes."""
    from rapidun.data.checks import check_unique
    from rapidun.data.rows import load_rows
    from rapidun.modeling.device import resolve_device
    from rapidun.modeling.limits import check_max_length
    from rapidun.modeling.load import load_model
    from rapidun.training.sft import LoraSettings, TrainConfig, train_model

    shown = start(progress)
    if lora and (config is None or config.lora is None) and "lora" not in settings:
        settings = {**settings, "lora": LoraSettings()}
    cfg: TrainConfig = typed_config(TrainConfig, config, settings, "rapidun.train")
    rows = load_rows(_train_rows_file(data))
    check_unique(rows, f"data {data}")
    corpus = [f"{r.instruction} {r.context} {r.response} {r.response_clean or ''}" for r in rows]
    loaded = load_model(model, corpus=corpus, arch=arch, seed=cfg.seed, device=resolve_device(device, None))
    check_max_length(loaded.model, cfg.max_length)
    res = train_model(
        loaded.model, loaded.tokenizer, rows, Path(out), cfg, overwrite=overwrite, progress=shown, source=model
    )
    return TrainResult(Path(res.out_dir), res.steps, res.final_loss, res.seconds, res.run)


def evaluate(
    model: str,
    data: PathLike,
    out: PathLike,
    *,
    adapter: PathLike | None = None,
    keywords: PathLike | None = None,
    target_regex: str | None = None,
    overwrite: bool = False,
    progress: bool | None = None,
    device: str = "auto",
    config: Any = None,
    **settings: Any,
) -> EvaluationResult:
    """Evaluate ``model`` (+ ``adapter``) on the pack ``data`` and write ``metrics.json`` and
    ``generations.jsonl`` to ``out`` (``rapidun evaluate``): ASR on seen / OOD triggers, false-trigger rate,
    clean perplexity, with counts and 95% intervals. Settings: fields of
    :class:`rapidun.evaluation.config.EvaluateConfig` (``max_eval``, ``max_new_tokens``, ``threshold``, ...)."""
    from rapidun.evaluation import evaluate_dir
    from rapidun.evaluation.config import EvaluateConfig

    shown = start(progress)
    cfg: EvaluateConfig = typed_config(EvaluateConfig, config, settings, "rapidun.evaluate")
    metrics = evaluate_dir(
        model,
        data,
        out,
        adapter=None if adapter is None else str(adapter),
        keywords_file=keywords,
        target_regex=target_regex,
        threshold=cfg.threshold,
        target_fpr=cfg.target_fpr,
        max_new_tokens=cfg.max_new_tokens,
        batch_size=cfg.batch_size,
        prompt_style=cfg.prompt_style,
        max_eval=cfg.max_eval,
        limits=cfg.limits(),
        subset=cfg.subset,
        seed=cfg.seed,
        device=device,
        overwrite=overwrite,
        progress=shown,
    )
    return EvaluationResult(Path(out), metrics)
