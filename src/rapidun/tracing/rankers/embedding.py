"""The ``embedding`` ranker: cosine similarity of the model's mean last hidden state (docs/method.md section 2).

A row (prompt + response tokens, encoded exactly as for training) is embedded as
``e = sum_t m_t h_t / sum_t m_t``, h_t of shape (hidden,) the last layer's hidden state at position t and m the
attention mask; the score of training row i for report q is ``cos(e_q, e_i)``. Rows go through the model in
batches of ``cfg.batch_size``, so memory holds one batch of activations and the (n, hidden) embeddings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from tqdm.auto import tqdm

from rapidun.data.rows import Row
from rapidun.data.tokenize import collate, encode_rows
from rapidun.errors import RapidunError
from rapidun.modeling.device import model_device

if TYPE_CHECKING:
    from rapidun.tracing.ranker_registry import RankInputs


def mean_hidden(
    model: Any,
    tokenizer: Any,
    rows: Sequence[Row],
    *,
    max_length: int,
    prompt_style: str,
    batch_size: int,
    progress: bool = False,
    desc: str = "embed",
) -> torch.Tensor:
    """(n_rows, hidden) float32 mean last hidden state over each row's prompt and response tokens."""
    enc = encode_rows(rows, tokenizer, max_length, prompt_style, name=desc)
    if enc.skipped:
        raise RapidunError(
            f"{desc} row(s) {enc.skipped[:5]} keep no response token within --max-length "
            f"{max_length}; raise --max-length or remove them"
        )
    device = model_device(model)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    out = []
    starts = range(0, len(enc.examples), batch_size)
    with torch.inference_mode():
        for s in tqdm(starts, desc=desc, unit="batch", disable=not progress, leave=False):
            batch = collate(enc.examples[s : s + batch_size], pad)
            mask = batch["attention_mask"].to(device)
            hidden = model(input_ids=batch["input_ids"].to(device), attention_mask=mask, output_hidden_states=True)
            last = hidden.hidden_states[-1].float()  # (batch, seq, hidden)
            m = mask.unsqueeze(-1).float()
            out.append(((last * m).sum(1) / m.sum(1)).cpu())
    return torch.cat(out)


def score(inputs: RankInputs) -> np.ndarray:
    cfg = inputs.cfg
    inputs.model.eval()

    def embed(rows: Sequence[Row], progress: bool, desc: str) -> torch.Tensor:
        return mean_hidden(
            inputs.model,
            inputs.tokenizer,
            rows,
            max_length=cfg.max_length,
            prompt_style=cfg.prompt_style,
            batch_size=cfg.batch_size,
            progress=progress,
            desc=desc,
        )

    with inputs.ledger.stage("embed_train"):
        train = embed(inputs.train_rows, inputs.progress, "embed train")
    with inputs.ledger.stage("embed_reports"):
        reports = embed(inputs.report_rows, False, "embed reports")
    with inputs.ledger.stage("score"):
        cosine = torch.nn.functional.normalize(reports, dim=1) @ torch.nn.functional.normalize(train, dim=1).T
        return cosine.numpy()
