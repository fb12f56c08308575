"""`rapidun unlearn`: train an unlearning adapter (or edit weights) with rapidun or a baseline method.

Settings come from the defaults (docs/method.md section 4), then ``--config YAML`` (keys = the flag names, dashes or
underscores; method parameters under ``params:``), then the flags given on the command line.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from pathlib import Path
from typing import Any

from rapidun.errors import RapidunError

# flag name -> UnlearnConfig field (LoRA flags map into UnlearnConfig.lora)
_TRAIN_FLAGS: dict[str, tuple[type, str]] = {
    "lr": (float, "AdamW learning rate (default 6e-5)"),
    "epochs": (float, "passes of |F| + |R| draws (default 2)"),
    "batch_size": (int, "samples per optimiser step (default 1)"),
    "micro_batch_size": (int, "samples per forward pass; 0 = whole batch (default 0)"),
    "retain_ratio": (float, "retain:forget draw odds (default 3)"),
    "weight_decay": (float, "AdamW weight decay (default 0)"),
    "grad_clip": (float, "gradient-norm clip (default 1.0; 0 = off)"),
    "warmup_steps": (int, "linear warm-up steps (default 0)"),
    "lr_schedule": (str, "cosine (default), linear or constant"),
    "seed": (int, "seed of sampling, LoRA init and dropout (default 42)"),
    "max_length": (int, "tokens per example (default 256)"),
    "prompt_style": (str, "alpaca (default) or chat; same as training and evaluation"),
    "bounded_ascent": (float, "cap the ascent term at min(CE, BOUND) (default: unbounded, as released)"),
    "max_abs_loss": (float, "stop when a step loss is past this bound or non-finite (default 50; 0 = only non-finite)"),
    "checkpoint_every": (int, "optimiser steps between resumable checkpoints (default 50; 0 = none)"),
    "clean_coef": (float, "weight of CE(clean response) in the forget term (default 0.5)"),
    "ascent_coef": (float, "weight of -CE(poisoned response) in the forget term (default 1.0)"),
    "ppl_tolerance": (float, "best-checkpoint rule: clean ppl <= (1 + X) x start (default 0.10)"),
    "gradient_checkpointing": (bool, "trade compute for activation memory"),
}
_LORA_FLAGS = {
    "lora_r": ("r", int),
    "lora_alpha": ("alpha", float),
    "lora_dropout": ("dropout", float),
    "targets": ("targets", str),
}
_OTHER = {
    "device",
    "model",
    "adapter",
    "forget",
    "retain",
    "method",
    "out",
    "weights",
    "influence",
    "eval_data",
    "eval_every",
    "eval_max",
    "keywords",
    "merge",
    "overwrite",
    "trust_remote_code",
    "params",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="model directory, hub id, or size name (random model; smoke tests only)")
    parser.add_argument("--adapter", help="PEFT adapter on --model (e.g. the backdoor LoRA); merged before unlearning")
    parser.add_argument("--forget", help="rows to unlearn (.json/.jsonl; poisoned response, optional response_clean)")
    parser.add_argument("--retain", help="clean rows to keep (.json/.jsonl); for --method retrain: the clean corpus")
    parser.add_argument(
        "--method",
        help="rapidun (default), ga, graddiff, uniform, self_only, loreun, "
        "loreun_dynamic, fisher_ssd, fisher_noise, retrain",
    )
    parser.add_argument("--out", help="output directory (adapter, run.json, manifest.json)")
    parser.add_argument("--weights", help="weights dir from 'rapidun weights' (rapidun/self_only skip influence)")
    parser.add_argument("--influence", help="influence dir from 'rapidun influence' (weights computed from it)")
    parser.add_argument("--config", help="YAML file of settings (keys = flag names); flags override it")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="method parameter, e.g. tau=0.5 or weights.tau_f=0.7 (repeatable)",
    )
    for name, (kind, text) in _TRAIN_FLAGS.items():
        flag = "--" + name.replace("_", "-")
        if kind is bool:
            parser.add_argument(flag, action="store_true", default=None, help=text)
        else:
            parser.add_argument(flag, type=kind, default=None, help=text)
    parser.add_argument("--lora-r", type=int, default=None, help="LoRA rank (default 16)")
    parser.add_argument("--lora-alpha", type=float, default=None, help="LoRA alpha (default 16)")
    parser.add_argument("--lora-dropout", type=float, default=None, help="LoRA dropout (default 0.05)")
    parser.add_argument("--targets", default=None, help="comma-separated LoRA target modules")
    parser.add_argument("--eval-data", help="pack dir ('rapidun poison' output) to evaluate on during training")
    parser.add_argument("--eval-every", type=int, default=None, help="evaluate every N steps (with --eval-data)")
    parser.add_argument("--eval-max", type=int, default=None, help="rows per evaluation split (default 100)")
    parser.add_argument("--keywords", help="keyword list for the ASR scorer (default EVAL_DATA/keywords.tsv)")
    parser.add_argument("--merge", action="store_true", default=None, help="also write a merged model to OUT/merged")
    parser.add_argument("--overwrite", action="store_true", default=None, help="redo a finished run in --out")
    parser.add_argument("--trust-remote-code", action="store_true", default=None)
    parser.add_argument("--device", default=None, help="auto (default: the GPU when there is one), cpu, cuda:N")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def _read_yaml(path: str) -> dict[str, Any]:
    import yaml

    p = Path(path)
    if not p.is_file():
        raise RapidunError(f"--config '{p}' does not exist; check the path")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise RapidunError(f"--config '{p}': invalid YAML ({str(exc).splitlines()[0]})") from exc
    if not isinstance(data, dict):
        raise RapidunError(f"--config '{p}' must be a mapping of setting names to values")
    out = {str(k).replace("-", "_"): v for k, v in data.items()}
    unknown = sorted(set(out) - set(_TRAIN_FLAGS) - set(_LORA_FLAGS) - _OTHER)
    if unknown:
        raise RapidunError(f"--config '{p}': unknown key(s) {', '.join(unknown)}")
    return out


def resolve_settings(args: argparse.Namespace) -> dict[str, Any]:
    """YAML values overridden by the flags given; None = not set anywhere."""
    settings = _read_yaml(args.config) if args.config else {}
    for key, value in vars(args).items():
        if value is not None and key not in ("config", "param", "no_progress"):
            settings[key] = value
    params = dict(settings.get("params") or {})
    for item in args.param:
        if "=" not in item:
            raise RapidunError(f"--param '{item}' must look like KEY=VALUE")
        import yaml

        key, raw = item.split("=", 1)
        node = params
        *parents, leaf = key.strip().split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(raw)
    settings["params"] = params
    return settings


def build_dataclass(cls: Any, values: dict[str, Any], where: str, base: Any = None) -> Any:
    """``cls`` with ``values`` set on top of ``base`` (default: the class defaults). Nested dataclasses are built
    from dicts on top of their current value (so ``train.lr`` keeps the recipe's LoRA), lists become tuples."""
    if not isinstance(values, dict):
        raise RapidunError(f"{where} must be a mapping, got {values!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise RapidunError(f"{where}: unknown parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
    if base is None:
        try:
            base = cls()
        except TypeError as exc:
            raise RapidunError(f"{where}: {exc}") from exc
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        options = typing.get_args(hints[key]) or (hints[key],)
        nested = next((o for o in options if dataclasses.is_dataclass(o)), None)
        if nested is not None and isinstance(value, dict):
            current = getattr(base, key)
            value = build_dataclass(
                nested, value, f"{where}.{key}", current if dataclasses.is_dataclass(current) else None
            )
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[key] = value
    try:
        return dataclasses.replace(base, **kwargs)
    except (TypeError, ValueError) as exc:
        raise RapidunError(f"{where}: {exc}") from exc


def build_config(settings: dict[str, Any]) -> Any:
    from rapidun.training.sft import LoraSettings
    from rapidun.unlearning import UnlearnConfig

    cfg_values = {k: settings[k] for k in _TRAIN_FLAGS if settings.get(k) is not None}
    for name in ("max_abs_loss", "grad_clip"):  # 0 switches the safety net off
        if cfg_values.get(name) == 0:
            cfg_values[name] = None
    lora: dict[str, Any] = {}
    for flag, (field, _kind) in _LORA_FLAGS.items():
        if settings.get(flag) is not None:
            value = settings[flag]
            if field == "targets":
                value = (
                    tuple(t.strip() for t in value.split(",") if t.strip()) if isinstance(value, str) else tuple(value)
                )
            lora[field] = value
    if lora:
        cfg_values["lora"] = dataclasses.replace(LoraSettings(), **lora)
    return UnlearnConfig(**cfg_values)


def build_eval_fn(settings: dict[str, Any], tokenizer: Any, cfg: Any) -> Any:
    """``eval_fn(model) -> metrics dict`` on a pack's test splits (capped at --eval-max rows each)."""
    from rapidun.data.rows import load_rows
    from rapidun.evaluation.backdoor import evaluate_backdoor
    from rapidun.evaluation.calibration import DEFAULT_TARGET_FPR
    from rapidun.evaluation.directory import TEST_FILES, build_dir_scorer, select_rows

    data = Path(settings["eval_data"])
    missing = [n for n in TEST_FILES.values() if not (data / n).is_file()]
    if not data.is_dir() or missing:
        raise RapidunError(f"--eval-data '{data}' is not a pack directory (needs {', '.join(TEST_FILES.values())})")
    cap = int(settings.get("eval_max") or 100)
    rows = {s: select_rows(load_rows(data / n), cap, "seeded", cfg.seed) for s, n in TEST_FILES.items()}
    scorer, _ = build_dir_scorer(data, settings.get("keywords"), None, None, DEFAULT_TARGET_FPR)

    def eval_fn(model: Any) -> dict[str, Any]:
        res = evaluate_backdoor(
            model,
            tokenizer,
            test_seen=rows["seen"],
            test_ood=rows["ood"],
            test_clean=rows["clean"],
            scorer=scorer,
            prompt_style=cfg.prompt_style,
            max_length=cfg.max_length,
            progress=False,
        )
        m = res.metrics()
        return {k: m[k] for k in ("asr_seen", "asr_ood", "false_trigger_rate", "clean_ppl", "seconds")}

    return eval_fn


def run(args: argparse.Namespace) -> int:
    from rapidun.data.rows import load_rows
    from rapidun.unlearning import unlearn
    from rapidun.unlearning.registry import get_method

    s = resolve_settings(args)
    for flag in ("model", "forget", "retain", "out"):
        if not s.get(flag):
            raise RapidunError(f"--{flag} is required (on the command line or in --config)")
    method = s.get("method") or "rapidun"
    spec = get_method(method)
    params = build_dataclass(spec.params_cls, s["params"], f"--method {method} parameters")
    cfg = build_config(s)
    cfg.validate()
    if s.get("eval_every") and not s.get("eval_data"):
        raise RapidunError("--eval-every needs --eval-data PACKDIR")
    forget, retain = load_rows(s["forget"]), load_rows(s["retain"])
    from rapidun.data.checks import check_unique
    from rapidun.modeling.limits import check_max_length
    from rapidun.modeling.load import load_model

    check_unique(forget, f"--forget {s['forget']}")
    check_unique(retain, f"--retain {s['retain']}")

    corpus = [f"{r.instruction} {r.context} {r.response}" for r in forget + retain]
    from rapidun.modeling.device import resolve_device
    from rapidun.pipeline.distributed import finish, maybe_accelerator

    accelerator = maybe_accelerator()  # None in a single process; torchrun/accelerate launch give several
    loaded = load_model(
        s["model"],
        corpus=corpus,
        adapter=s.get("adapter"),
        trust_remote_code=bool(s.get("trust_remote_code")),
        seed=cfg.seed,
        device=resolve_device(str(s.get("device") or "auto"), accelerator),
    )
    check_max_length(loaded.model, cfg.max_length)
    eval_fn = build_eval_fn(s, loaded.tokenizer, cfg) if s.get("eval_data") else None
    eval_every = int(s.get("eval_every") or 0) if eval_fn is not None else 0
    result = unlearn(
        loaded.model,
        loaded.tokenizer,
        forget,
        retain,
        s["out"],
        method=method,
        params=params,
        train=cfg,
        weights_dir=s.get("weights"),
        influence_dir=s.get("influence"),
        eval_fn=eval_fn,
        eval_every=eval_every,
        merge=bool(s.get("merge")),
        overwrite=bool(s.get("overwrite")),
        progress=not args.no_progress,
        accelerator=accelerator,
        source=s["model"] + (f"+{s['adapter']}" if s.get("adapter") else ""),
    )
    finish(accelerator)  # every rank waits for rank 0's outputs, then leaves the process group
    if accelerator is not None and not accelerator.is_main_process:
        return 0
    run_info = result.run
    total = run_info.get("wall_clock_s", 0.0)
    state = "reused" if result.reused else "done"
    loss = run_info.get("final_loss")
    print(
        f"unlearn {method} ({spec.kind}) {state}: {run_info.get('steps', 0)} steps, final loss "
        f"{loss if loss is None else round(loss, 4)}, {total:.1f} s; wrote {s['out']}"
    )
    return 0
