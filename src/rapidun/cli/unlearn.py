"""`rapidun unlearn`: train an unlearning adapter (or edit weights) with rapidun or a baseline method.

Settings come from the defaults (docs/method.md section 4), then ``--config YAML`` (keys = the flag names, dashes or
underscores; method parameters under ``params:``), then the flags given on the command line.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rapidun.errors import RapidunError

# Settings of the run that are not UnlearnConfig fields (accepted in --config too).
_RUN_KEYS = (
    "model",
    "adapter",
    "forget",
    "retain",
    "forget_from",
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
    "device",
    "params",
)
EVAL_MAX = 100  # rows per evaluation split during training


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from rapidun.cli.model_flags import add_model_flags
    from rapidun.settings import add_arguments as add_settings
    from rapidun.unlearning.config import UnlearnConfig
    from rapidun.unlearning.registry import DEFAULT_METHOD, METHODS

    add_model_flags(parser)
    parser.add_argument("--model", help="model directory, hub id, or size name (random model; smoke tests only)")
    parser.add_argument("--adapter", help="PEFT adapter on --model (e.g. the backdoor LoRA); merged before unlearning")
    parser.add_argument("--forget", help="rows to unlearn (.json/.jsonl; poisoned response, optional response_clean)")
    parser.add_argument("--retain", help="clean rows to keep (.json/.jsonl); for the retraining reference: the corpus")
    parser.add_argument(
        "--forget-from",
        help="a 'rapidun trace' output dir: its proposed forget.jsonl and retain.jsonl (not with --forget)",
    )
    parser.add_argument("--method", help=f"{', '.join(METHODS)} (default: {DEFAULT_METHOD})")
    parser.add_argument("--out", help="output directory (adapter, run.json, manifest.json)")
    parser.add_argument(
        "--weights", help="weights dir from 'rapidun weights' (influence-weighted methods skip influence)"
    )
    parser.add_argument("--influence", help="influence dir from 'rapidun influence' (weights computed from it)")
    parser.add_argument("--config", help="YAML file of settings (keys = flag names); flags override it")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="method parameter, e.g. tau=0.5 or weights.tau_f=0.7 (repeatable)",
    )
    parser.set_defaults(unlearn_flags=add_settings(parser, UnlearnConfig))
    parser.add_argument("--eval-data", help="pack dir ('rapidun poison' output) to evaluate on during training")
    parser.add_argument("--eval-every", type=int, default=None, help="evaluate every N steps (with --eval-data)")
    parser.add_argument("--eval-max", type=int, default=None, help=f"rows per evaluation split (default: {EVAL_MAX})")
    parser.add_argument("--keywords", help="keyword list for the ASR scorer (default EVAL_DATA/keywords.tsv)")
    parser.add_argument("--merge", action="store_true", default=None, help="also write a merged model to OUT/merged")
    parser.add_argument("--overwrite", action="store_true", default=None, help="redo a finished run in --out")
    parser.add_argument("--trust-remote-code", action="store_true", default=None)
    parser.add_argument("--device", default=None, help="auto (default: the GPU when there is one), cpu, cuda:N")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def _read_yaml(path: str, known: set[str]) -> dict[str, Any]:
    import yaml

    from rapidun.settings import unknown_key_error

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
    for key in out:
        if key not in known:
            raise unknown_key_error(key, known, f"--config '{p}'")
    return out


def resolve_settings(args: argparse.Namespace) -> dict[str, Any]:
    """YAML values overridden by the flags given; None = not set anywhere."""
    known = set(args.unlearn_flags) | set(_RUN_KEYS)
    settings = _read_yaml(args.config, known) if args.config else {}
    settings.update({k: v for k, v in vars(args).items() if k in known and v is not None})
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


def build_config(settings: dict[str, Any], flags: dict[str, tuple[str, ...]]) -> Any:
    """The UnlearnConfig of the settings given (flag names, as in --config), on top of the dataclass defaults."""
    from rapidun.settings import from_mapping
    from rapidun.unlearning import UnlearnConfig

    values: dict[str, Any] = {}
    for dest, path in flags.items():
        value = settings.get(dest)
        if value is None:
            continue
        if path in (("max_abs_loss",), ("grad_clip",)) and value == 0:
            value = None  # 0 switches the safety net off
        node = values
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    cfg = from_mapping(UnlearnConfig, values, "rapidun unlearn")
    cfg.validate()
    return cfg


def build_params(method: str, values: dict[str, Any], cfg: Any) -> Any:
    """The method's params dataclass from --param / ``params:``; an ``influence`` block starts from the run's
    max_length and prompt style (as influence computed without one does)."""
    from rapidun.settings import from_mapping, validate_tree
    from rapidun.unlearning.registry import get_method

    values = dict(values)
    if isinstance(values.get("influence"), dict):
        values["influence"] = {"max_length": cfg.max_length, "prompt_style": cfg.prompt_style, **values["influence"]}
    params = from_mapping(get_method(method).params_cls, values, f"--method {method} parameters")
    validate_tree(params)
    return params


def build_eval_fn(settings: dict[str, Any], tokenizer: Any, cfg: Any) -> Any:
    """``eval_fn(model) -> metrics dict`` on the VALIDATION rows of a pack (val_seen, val_ood, clean val; capped at
    --eval-max rows each): checkpoint selection never reads a test split (docs/method.md section 4)."""
    from rapidun.evaluation.validation import validation_eval_fn

    return validation_eval_fn(
        settings["eval_data"],
        tokenizer,
        keywords_file=settings.get("keywords"),
        max_rows=int(settings.get("eval_max") or EVAL_MAX),
        seed=cfg.seed,
        prompt_style=cfg.prompt_style,
        max_length=cfg.max_length,
    )


def check_dirs(s: dict[str, Any]) -> None:
    """The directories named by --weights / --influence / --adapter / --eval-data exist, checked before the model
    loads (their contents are checked against the rows later)."""
    from rapidun.modeling.resolve import check_adapter_dir

    if s.get("weights") and not Path(s["weights"]).is_dir():
        raise RapidunError(f"--weights '{s['weights']}' is not a directory; pass the --out of 'rapidun weights'")
    if s.get("influence") and not (Path(s["influence"]) / "manifest.json").is_file():
        raise RapidunError(
            f"--influence '{s['influence']}' is not a finished influence directory (no manifest.json); run "
            "'rapidun influence' first"
        )
    if s.get("eval_data") and not Path(s["eval_data"]).is_dir():
        raise RapidunError(
            f"--eval-data '{s['eval_data']}' is not a pack directory; pass the --out of 'rapidun poison'"
        )
    if s.get("adapter"):
        check_adapter_dir(s["adapter"])


def required_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The run's settings (YAML, then flags), with the required ones present. --forget-from DIR: the forget and
    retain files a finished trace proposed (checked against its manifest)."""
    s = resolve_settings(args)
    if s.get("forget_from"):
        from rapidun.tracing import load_traced_sets

        if s.get("forget") or s.get("retain"):
            raise RapidunError("give either --forget-from DIR or --forget and --retain, not both")
        load_traced_sets(s["forget_from"])
        s["forget"], s["retain"] = (str(Path(s["forget_from"]) / f"{n}.jsonl") for n in ("forget", "retain"))
    for flag in ("model", "forget", "retain", "out"):
        if not s.get(flag):
            raise RapidunError(f"--{flag} is required (on the command line or in --config)")
    return s


def run(args: argparse.Namespace) -> int:
    from rapidun.data.rows import load_rows
    from rapidun.unlearning import unlearn
    from rapidun.unlearning.registry import DEFAULT_METHOD, get_method

    s = required_settings(args)
    method = s.get("method") or DEFAULT_METHOD
    cfg = build_config(s, args.unlearn_flags)
    params = build_params(method, s["params"], cfg)
    if s.get("eval_every") and not s.get("eval_data"):
        raise RapidunError("--eval-every needs --eval-data PACKDIR")
    forget, retain = load_rows(s["forget"]), load_rows(s["retain"])
    from rapidun.data.checks import check_unique
    from rapidun.modeling.limits import check_max_length
    from rapidun.modeling.load import load_model

    check_unique(forget, f"--forget {s['forget']}")
    check_unique(retain, f"--retain {s['retain']}")
    check_dirs(s)

    corpus = [f"{r.instruction} {r.context} {r.response}" for r in forget + retain]
    from rapidun.cli.model_flags import model_settings
    from rapidun.modeling.device import resolve_device
    from rapidun.pipeline.distributed import finish, maybe_accelerator

    accelerator = maybe_accelerator(for_training=True)  # None in one process; torchrun/accelerate launch: several
    weights = model_settings(args, "unlearn")
    loaded = load_model(
        s["model"],
        arch=args.arch,
        dtype=weights.dtype,
        load_in_4bit=weights.load_in_4bit,
        corpus=corpus,
        adapter=s.get("adapter"),
        trust_remote_code=bool(s.get("trust_remote_code")),
        seed=cfg.seed,
        device=resolve_device(str(s.get("device") or "auto"), accelerator),
    )
    check_max_length(loaded.model, cfg.max_length)
    cfg = cfg.with_targets_resolved(loaded.model)
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
    from rapidun.evaluation.trigger_check import check_unlearn_run

    check_unlearn_run(s["out"], result.evaluations)  # with --eval-data: warn when there is no backdoor to remove
    run_info = result.run
    total = run_info.get("wall_clock_s", 0.0)
    state = "reused" if result.reused else "done"
    loss = run_info.get("final_loss")
    print(
        f"unlearn {method} ({get_method(method).kind}) {state}: {run_info.get('steps', 0)} steps, final loss "
        f"{loss if loss is None else round(loss, 4)}, {total:.1f} s; wrote {s['out']}"
    )
    return 0
