"""Sequential deletion requests (issue 15 item 4; the paper's open question 2): k successive requests, each a
disjoint share of the forget rows, each served on the result of the previous one, against one combined request.

Composition: **merged**. After each request the unlearning adapter is merged into the weights and the next request
trains a fresh adapter on that merged model. Why: a model owner serves a deletion request on the model it ships,
which after the previous request is one set of weights; stacking k adapters would make inference cost grow with
k and leave each adapter trained with the earlier ones frozen beside it; and the weight-editing methods (Fisher)
have no adapter to stack, so merging keeps every method on the same footing.

After the starting point and after each request ``evaluate(model)`` gives the task's forget and utility metrics
(e.g. ASR and clean perplexity); this module adds the forget loss on the rows requested so far and on the rows not
requested yet, and each request's cost (the unlearning run's wall clock, influence included where the method
computes it). Writes ``OUT/request_<i>/`` (each an ``rapidun unlearn`` output), ``OUT/combined/``,
``OUT/sequential.json`` and ``OUT/manifest.json`` last.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any

from rapidun.artifacts import atomic_write_json, clear_manifest, ensure_dir, read_manifest, write_manifest
from rapidun.data.rows import Row, rows_hash
from rapidun.errors import RapidunError
from rapidun.pipeline.relearn_config import RelearnConfig
from rapidun.pipeline.relearn_tasks import forget_loss

RESULT_FILE = "sequential.json"
COMPOSITION = "merged"


@dataclass(frozen=True)
class SequentialConfig:
    """How the forget rows are split into requests."""

    requests: int = field(default=3, metadata={"help": "k successive deletion requests (disjoint forget subsets)"})
    split_seed: int = field(default=0, metadata={"help": "seed of the split of the forget rows into requests"})
    combined: bool = field(default=True, metadata={"help": "also serve all k subsets as one combined request"})

    def validate(self, n_forget: int) -> None:
        if self.requests < 1:
            raise RapidunError(f"--requests must be >= 1 (deletion requests), got {self.requests}")
        if self.requests > n_forget:
            raise RapidunError(f"--requests {self.requests} exceeds the {n_forget} forget rows; lower it")


def split_requests(n: int, k: int, seed: int) -> list[list[int]]:
    """k disjoint, seeded subsets of ``range(n)`` covering it, sizes differing by at most one (the first ones
    larger), each sorted."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    size, extra = divmod(n, k)
    out, start = [], 0
    for i in range(k):
        end = start + size + (1 if i < extra else 0)
        out.append(sorted(order[start:end]))
        start = end
    return out


def _model_after(result: Any, model: Any, run_dir: Path) -> Any:
    """The unlearned model as a plain (merged) model: in memory when just trained, else rebuilt from ``run_dir``."""
    from rapidun.unlearning.outputs import merge_existing_adapter

    if result.model is not None:
        return merge_existing_adapter(result.model)
    if (run_dir / "adapter_config.json").is_file():
        from peft import PeftModel

        return PeftModel.from_pretrained(model, str(run_dir)).merge_and_unload()
    if (run_dir / "merged").is_dir():
        from rapidun.modeling.load import load_model

        return load_model(str(run_dir / "merged"), device=next(model.parameters()).device).model
    raise RapidunError(f"'{run_dir}' holds neither an adapter nor merged/; rerun with overwrite")


def _losses(model: Any, tokenizer: Any, served: Sequence[Row], pending: Sequence[Row], cfg: RelearnConfig) -> dict:
    return {
        "forget_loss_requested": forget_loss(model, tokenizer, served, cfg) if served else None,
        "forget_loss_pending": forget_loss(model, tokenizer, pending, cfg) if pending else None,
    }


def serve_requests(
    start_model: Callable[[], Any],
    tokenizer: Any,
    forget: Sequence[Row],
    retain: Sequence[Row],
    out_dir: str | Path,
    cfg: SequentialConfig,
    *,
    method: str,
    evaluate: Callable[[Any], dict[str, Any]],
    params: Any = None,
    train: Any = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Serve ``cfg.requests`` sequential requests (and, with ``cfg.combined``, one combined request) with ``method``
    and return the ``sequential.json`` dict. ``start_model()`` returns a fresh copy of the model before any request
    (called once per chain); ``train`` is the :class:`rapidun.unlearning.UnlearnConfig` of every request."""
    from rapidun.unlearning import UnlearnConfig, unlearn
    from rapidun.unlearning.registry import is_reference

    cfg.validate(len(forget))
    if is_reference(method):
        raise RapidunError(f"--method {method} serves one combined request only (retraining without the union)")
    train = train or UnlearnConfig()
    out = ensure_dir(out_dir)
    shown = asdict(params) if is_dataclass(params) and not isinstance(params, type) else params
    settings = json.loads(
        json.dumps({"config": asdict(cfg), "method": method, "params": shown, "train": asdict(train)}, default=str)
    )
    done = read_manifest(out)
    if done is not None and done.get("settings") == settings and (out / RESULT_FILE).is_file():
        return dict(json.loads((out / RESULT_FILE).read_text(encoding="utf-8")))
    clear_manifest(out)
    loss_cfg = RelearnConfig(max_length=train.max_length, prompt_style=train.prompt_style)
    splits = split_requests(len(forget), cfg.requests, cfg.split_seed)

    def serve(model: Any, rows: list[Row], run_dir: Path) -> tuple[Any, dict[str, Any]]:
        res = unlearn(
            model, tokenizer, rows, list(retain), run_dir, method=method, params=params, train=train, progress=progress
        )
        return _model_after(res, model, run_dir), res.run

    model = start_model()
    record: dict[str, Any] = {
        "composition": COMPOSITION,
        "method": method,
        "start": {**evaluate(model), **_losses(model, tokenizer, [], list(forget), loss_cfg)},
        "requests": [],
    }
    served: list[int] = []
    total = 0.0
    for i, indices in enumerate(splits, start=1):
        rows = [forget[j] for j in indices]
        model, run = serve(model, rows, out / f"request_{i}")
        served += indices
        taken = set(served)
        pending = [r for j, r in enumerate(forget) if j not in taken]
        cost = float(run.get("wall_clock_s", 0.0))
        total += cost
        metrics = {**evaluate(model), **_losses(model, tokenizer, [forget[j] for j in served], pending, loss_cfg)}
        record["requests"].append(
            {
                "index": i,
                "forget_indices": indices,
                "rows_hash": rows_hash(rows),
                "steps": run.get("steps"),
                "cost_s": cost,
                "cumulative_cost_s": total,
                "metrics": metrics,
            }
        )
    if cfg.combined:
        model, run = serve(start_model(), list(forget), out / "combined")
        metrics = {**evaluate(model), **_losses(model, tokenizer, list(forget), [], loss_cfg)}
        cost = float(run.get("wall_clock_s", 0.0))
        record["combined"] = {"steps": run.get("steps"), "cost_s": cost, "metrics": metrics}
    atomic_write_json(out / RESULT_FILE, record)
    write_manifest(out, {"stage": "sequential", "settings": settings, "files": [RESULT_FILE]})
    return record
