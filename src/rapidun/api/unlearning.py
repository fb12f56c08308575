"""Flat API, second half: remove the backdoor (``influence``, ``weights``, ``unlearn``) and run whole grids
(``study``). Same conventions as :mod:`rapidun.api.backdoor`: paths in, the CLI command's directory out, a result
dataclass back, settings as keyword fields of the stage's config dataclass, checked before any model loads."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rapidun.api.backdoor import start, typed_config
from rapidun.api.results import InfluenceResult, StudyResult, UnlearnResult, WeightsResult
from rapidun.errors import RapidunError

PathLike = str | os.PathLike[str]


def _rows(forget: PathLike, retain: PathLike) -> tuple[list[Any], list[Any]]:
    from rapidun.data.checks import check_unique
    from rapidun.data.rows import load_rows

    forget_rows, retain_rows = load_rows(forget), load_rows(retain)
    check_unique(forget_rows, f"forget {forget}")
    check_unique(retain_rows, f"retain {retain}")
    return forget_rows, retain_rows


def influence(
    model: str,
    forget: PathLike,
    retain: PathLike,
    out: PathLike,
    *,
    adapter: PathLike | None = None,
    cache_dir: PathLike | None = None,
    overwrite: bool = False,
    progress: bool | None = None,
    device: str = "auto",
    config: Any = None,
    **settings: Any,
) -> InfluenceResult:
    """Influence of the ``forget`` and ``retain`` rows on each other (FF, FR, RF, RR; ``rapidun influence``;
    docs/method.md section 2) for ``model`` (+ ``adapter``), written to ``out``. Settings: fields of
    :class:`rapidun.influence.config.InfluenceConfig` (``projector``, ``dim``, ``batch_size``, ``max_length``)."""
    from rapidun.influence.config import InfluenceConfig
    from rapidun.influence.stage import compute_influence
    from rapidun.modeling.device import resolve_device
    from rapidun.modeling.load import load_model

    shown = start(progress)
    cfg: InfluenceConfig = typed_config(InfluenceConfig, config, settings, "rapidun.influence")
    forget_rows, retain_rows = _rows(forget, retain)
    corpus = [f"{r.instruction} {r.context} {r.response}" for r in forget_rows + retain_rows]
    loaded = load_model(
        model, corpus=corpus, adapter=None if adapter is None else str(adapter), device=resolve_device(device, None)
    )
    res = compute_influence(
        loaded.model,
        loaded.tokenizer,
        forget_rows,
        retain_rows,
        out,
        cache_dir=cache_dir,
        overwrite=overwrite,
        progress=shown,
        cfg=cfg,
    )
    shapes = {k: (int(v.shape[0]), int(v.shape[1])) for k, v in res.scores.items()}
    seconds = float(sum(v.get("seconds", 0.0) for v in res.timings.values()))
    return InfluenceResult(Path(res.out_dir), shapes, seconds, res.manifest)


def weights(
    influence: PathLike, out: PathLike, *, overwrite: bool = False, params: Any = None, **settings: Any
) -> WeightsResult:
    """Map the influence scores in ``influence`` to bounded, mean-one per-row weights in ``out``
    (``rapidun weights``; docs/method.md section 3). Settings: fields of
    :class:`rapidun.weighting.compute.WeightParams` (``weighting``, ``tau_f``, ``tau_r``, ``w_min``, ...)."""
    from rapidun.weighting.compute import WeightParams
    from rapidun.weighting.stage import weights_stage

    start(False)
    cfg: WeightParams = typed_config(WeightParams, params, settings, "rapidun.weights")
    summary, reused = weights_stage(Path(out), cfg, influence_dir=Path(influence), overwrite=overwrite)
    return WeightsResult(Path(out), summary, reused)


def _validation_eval_fn(eval_data: PathLike, tokenizer: Any, cfg: Any) -> Any:
    from rapidun.evaluation.validation import validation_eval_fn

    return validation_eval_fn(
        eval_data, tokenizer, seed=cfg.seed, prompt_style=cfg.prompt_style, max_length=cfg.max_length
    )


def _method_params(method: str, params: Any) -> Any:
    """The method's params dataclass (given, from a dict, or its defaults), validated; an unknown method fails
    here, before any model loads."""
    from rapidun.settings import from_mapping, validate_tree
    from rapidun.unlearning.registry import get_method

    spec = get_method(method)
    if isinstance(params, dict) or params is None:
        params = from_mapping(spec.params_cls, params or {}, f"method {method} parameters")
    validate_tree(params)
    return params


def unlearn(
    model: str,
    forget: PathLike,
    retain: PathLike,
    out: PathLike,
    *,
    method: str = "rapidun",
    adapter: PathLike | None = None,
    weights: PathLike | None = None,
    influence: PathLike | None = None,
    params: Any = None,
    eval_data: PathLike | None = None,
    eval_every: int = 0,
    merge: bool = False,
    overwrite: bool = False,
    progress: bool | None = None,
    device: str = "auto",
    config: Any = None,
    **settings: Any,
) -> UnlearnResult:
    """Unlearn the ``forget`` rows from ``model`` (+ ``adapter``) while keeping the ``retain`` rows, with
    ``method`` (``rapidun`` or a baseline, see ``rapidun.unlearning.METHODS``), writing the adapter to ``out``
    (``rapidun unlearn``; docs/method.md section 4). ``weights`` / ``influence``: the directories of
    :func:`weights` / :func:`influence` (rapidun computes influence itself when neither is given). ``params``: the
    method's parameters (its params dataclass or a dict). ``eval_data``: a pack whose validation rows are evaluated
    before training (and every ``eval_every`` steps; the best step is kept), which also checks that the model has a
    trigger-conditioned backdoor (``run["backdoor_check"]``, a warning when not). Settings: fields of
    :class:`rapidun.unlearning.config.UnlearnConfig` (``lr``, ``epochs``, ``max_length``, ``seed``, ...)."""
    from rapidun.modeling.device import resolve_device
    from rapidun.modeling.load import load_model
    from rapidun.unlearning import UnlearnConfig
    from rapidun.unlearning import unlearn as run_unlearn

    shown = start(progress)
    cfg: UnlearnConfig = typed_config(UnlearnConfig, config, settings, "rapidun.unlearn")
    params = _method_params(method, params)
    for name, path in (("weights", weights), ("influence", influence)):
        if path is not None and not Path(path).is_dir():
            raise RapidunError(f"{name} '{path}' is not a directory; pass the out directory of rapidun.{name}()")
    forget_rows, retain_rows = _rows(forget, retain)
    corpus = [f"{r.instruction} {r.context} {r.response}" for r in forget_rows + retain_rows]
    loaded = load_model(
        model,
        corpus=corpus,
        adapter=None if adapter is None else str(adapter),
        seed=cfg.seed,
        device=resolve_device(device, None),
    )
    cfg = cfg.with_targets_resolved(loaded.model)
    eval_fn = None if eval_data is None else _validation_eval_fn(eval_data, loaded.tokenizer, cfg)
    res = run_unlearn(
        loaded.model,
        loaded.tokenizer,
        forget_rows,
        retain_rows,
        Path(out),
        method=method,
        params=params,
        train=cfg,
        weights_dir=None if weights is None else Path(weights),
        influence_dir=None if influence is None else Path(influence),
        eval_fn=eval_fn,
        eval_every=eval_every if eval_fn is not None else 0,
        merge=merge,
        overwrite=overwrite,
        progress=shown,
        source=str(model) + (f"+{adapter}" if adapter else ""),
    )
    run = dict(res.run)
    if eval_fn is not None:
        from rapidun.evaluation.trigger_check import check_unlearn_run

        check = check_unlearn_run(res.out_dir, res.evaluations)
        if check is not None:
            run["backdoor_check"] = check
    return UnlearnResult(Path(res.out_dir), res.method, run, res.reused, res.model)


def study(
    config: PathLike | dict[str, Any], out: PathLike | None = None, *, report: bool = True, progress: bool | None = None
) -> StudyResult:
    """Run a study (``rapidun study``): datasets x methods x seeds x sweeps from a YAML file or a mapping of the
    same keys (see ``configs/``), resumable, with ``results.json``, ``results.csv`` and ``report.html`` in ``out``
    (default ``runs/<name>``)."""
    import yaml

    from rapidun.pipeline.study import run_study
    from rapidun.pipeline.study_config import study_config

    shown = start(progress)
    if isinstance(config, dict):
        data = config
    else:
        path = Path(config)
        if not path.is_file():
            raise RapidunError(f"study config '{path}' does not exist; see configs/ for examples")
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    cfg = study_config(data)
    res = run_study(cfg, Path(out) if out is not None else Path("runs") / cfg.name, report=report, progress=shown)
    return StudyResult(Path(res.out_dir), res.runs, None if res.report_html is None else Path(res.report_html))
