"""kronfluence end to end (fit factors, then all pairwise scores) as a speed-table variant.

kronfluence is an optional dependency, imported only here; a run without it reports the reason and goes on.
"""

from __future__ import annotations

import copy
import logging
import tempfile
from typing import Any

import torch

from rapidun.influence.hooks import select_layers
from rapidun.modeling.loss import token_losses

from .measure import measure


def _task_class(names: list[str]) -> Any:
    """A kronfluence ``Task`` for a causal LM: per-row mean token loss over response tokens, summed; with
    ``sample`` (for the true Fisher) the response labels are drawn from the model."""
    from kronfluence.task import Task

    class LMTask(Task):
        def compute_train_loss(self, batch, model, sample=False):
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            labels = batch["labels"]
            if sample:  # the true Fisher: labels sampled from the model on response positions
                with torch.no_grad():
                    drawn = torch.multinomial(logits[:, :-1].float().softmax(-1).reshape(-1, logits.shape[-1]), 1)
                labels = labels.clone()
                mask = labels[:, 1:] != -100
                labels[:, 1:][mask] = drawn.view(labels.shape[0], -1)[mask]
            ce, m = token_losses(logits, labels)
            return (ce.sum(1) / m.sum(1).clamp_min(1)).sum()

        def compute_measurement(self, batch, model):
            return self.compute_train_loss(batch, model)

        def get_influence_tracked_modules(self):
            return names

        def get_attention_mask(self, batch):
            return batch["attention_mask"]

    return LMTask


class _Rows(torch.utils.data.Dataset):
    """Rows ``lo..hi-1`` of a dict of tensors, one dict per row."""

    def __init__(self, data: dict[str, torch.Tensor], lo: int, hi: int) -> None:
        self.data, self.lo, self.hi = data, lo, hi

    def __len__(self) -> int:
        return self.hi - self.lo

    def __getitem__(self, i: int) -> dict:
        return {k: v[self.lo + i] for k, v in self.data.items()}


def kronfluence_variant(model: torch.nn.Module, data: dict, strategy: str, n: int, query_batch: int) -> dict:
    """kronfluence end to end (fit factors with ``strategy``, then pairwise scores) for all pairs among the same
    ``n`` rows (the shape of RapidUn's FF/FR/RF/RR), queries in batches of ``query_batch``: it has no train
    gradient cache, so it recomputes the train gradients for every query batch."""
    from kronfluence.analyzer import Analyzer, prepare_model
    from kronfluence.arguments import FactorArguments, ScoreArguments

    task = _task_class([name for name, _ in select_layers(model)])
    logging.getLogger("kronfluence").setLevel(logging.ERROR)
    m = prepare_model(copy.deepcopy(model), task())
    with tempfile.TemporaryDirectory() as tmp:
        an = Analyzer("bench", m, task(), cpu=True, disable_tqdm=True, output_dir=tmp)

        def run() -> None:
            an.fit_all_factors(
                f"f-{strategy}",
                _Rows(data, 0, n),
                per_device_batch_size=8,
                factor_args=FactorArguments(strategy=strategy),
                overwrite_output_dir=True,
            )
            an.compute_pairwise_scores(
                "s",
                f"f-{strategy}",
                _Rows(data, 0, n),
                _Rows(data, 0, n),
                per_device_query_batch_size=query_batch,
                per_device_train_batch_size=8,
                score_args=ScoreArguments(),
                overwrite_output_dir=True,
            )

        name = f"kronfluence {strategy}"
        out = measure({name: run}, {name: n}, 1)[name]
    out["cache_bytes_per_sample"] = None
    out["note"] = f"end to end: factors + all {n}x{n} pairwise scores, query batches of {query_batch}"
    return out
