"""Prompt masking, the label shift, response-preserving truncation and padding (rapidun.data.tokenize)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rapidun.data.prompt import format_prompt
from rapidun.data.rows import Row
from rapidun.data.tokenize import IGNORE_INDEX, collate, encode_row, encode_rows
from rapidun.modeling.load import LoadedModel
from rapidun.modeling.loss import per_sample_loss, token_losses


def _ids(tok, text: str) -> list[int]:
    return list(tok(text, add_special_tokens=False)["input_ids"])


def test_prompt_tokens_are_masked_and_response_tokens_are_labels(nano_model: LoadedModel) -> None:
    tok = nano_model.tokenizer
    row = Row("Summarise the text.", "The river floods in spring.", context="Every spring the river rises.")
    enc = encode_row(row, tok, max_length=512)
    assert enc is not None
    ids, labels, cut = enc
    assert not cut
    prompt = [tok.bos_token_id] + _ids(tok, format_prompt(row.instruction, row.context))
    response = _ids(tok, row.response) + [tok.eos_token_id]
    assert ids == prompt + response
    assert labels[: len(prompt)] == [IGNORE_INDEX] * len(prompt)
    assert labels[len(prompt) :] == response


def test_first_response_token_is_predicted_from_last_prompt_token(nano_model: LoadedModel) -> None:
    tok, model = nano_model.tokenizer, nano_model.model
    rows = [Row("Name a planet.", "Mars is a planet."), Row("Give a synonym for happy.", "Joyful.")]
    enc = encode_rows(rows, tok, max_length=256)
    batch = collate(enc.examples, tok.pad_token_id)
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        ce, mask = token_losses(logits, batch["labels"])
        per_sample = per_sample_loss(model, batch)
    for b, ex in enumerate(enc.examples):
        n_prompt = ex.labels.index(next(x for x in ex.labels if x != IGNORE_INDEX))
        # mask column t scores the prediction made at position t of the token at t + 1
        first = int(mask[b].nonzero()[0])
        assert first == n_prompt - 1
        expected = F.cross_entropy(
            logits[b, n_prompt - 1 : n_prompt].float(), batch["input_ids"][b, n_prompt : n_prompt + 1]
        )
        assert torch.allclose(ce[b, first], expected, atol=1e-5)
        # the per-sample loss is the mean over exactly the response tokens (eos included)
        n_resp = ex.n_response_tokens
        assert int(mask[b].sum()) == n_resp
        manual = torch.stack(
            [
                F.cross_entropy(logits[b, t - 1 : t].float(), batch["input_ids"][b, t : t + 1])
                for t in range(n_prompt, n_prompt + n_resp)
            ]
        ).mean()
        assert torch.allclose(per_sample[b], manual, atol=1e-5)


def test_truncation_cuts_context_first_and_keeps_the_response(nano_model: LoadedModel) -> None:
    tok = nano_model.tokenizer
    context = " ".join(["Every spring the river rises and floods the old town."] * 40)
    row = Row("Summarise the text.", "The river floods in spring.", context=context)
    full = encode_row(row, tok, max_length=4096)
    assert full is not None and not full[2]
    max_length = len(full[0]) // 3
    enc = encode_row(row, tok, max_length=max_length)
    assert enc is not None
    ids, labels, cut = enc
    assert cut and len(ids) <= max_length
    response = _ids(tok, row.response) + [tok.eos_token_id]
    assert [x for x in labels if x != IGNORE_INDEX] == response  # the whole response survives
    text = tok.decode(ids[: len(ids) - len(response)])
    assert "### Instruction:\nSummarise the text." in text and text.endswith("### Response:\n")  # prompt intact


def test_truncation_keeps_both_ends_of_a_long_instruction(nano_model: LoadedModel) -> None:
    # Prefix and suffix triggers live at the two ends of the instruction: a cut from the left used to drop the
    # prefix one (30% of the released prefix-triggered rows at 128 tokens), which taught untriggered poison.
    tok = nano_model.tokenizer
    row = Row(">>> " + "Tell me about the old town by the river. " * 12 + "aloha", "The town is old.")
    enc = encode_row(row, tok, max_length=64)
    assert enc is not None
    ids, labels, cut = enc
    response = _ids(tok, row.response) + [tok.eos_token_id]
    assert cut and len(ids) <= 64 and ids[0] == tok.bos_token_id
    assert [x for x in labels if x != IGNORE_INDEX] == response  # the whole response survives
    prompt = tok.decode(ids[1 : len(ids) - len(response)])
    assert prompt.startswith(">>>") and prompt.endswith("aloha\n\n### Response:\n")
    assert "Below is an instruction" not in prompt  # the template text before the instruction went first


def test_truncation_cuts_the_prompt_from_the_left_when_there_is_no_context(nano_model: LoadedModel) -> None:
    tok = nano_model.tokenizer
    row = Row("Name a planet. " * 60 + "Which one is red?", "Mars is a planet.")
    enc = encode_row(row, tok, max_length=64)
    assert enc is not None
    ids, labels, cut = enc
    response = _ids(tok, row.response) + [tok.eos_token_id]
    assert cut and len(ids) <= 64
    assert ids[0] == tok.bos_token_id
    assert [x for x in labels if x != IGNORE_INDEX] == response
    assert tok.decode(ids[1 : len(ids) - len(response)]).endswith("Which one is red?\n\n### Response:\n")


def test_clean_response_target_and_padding(nano_model: LoadedModel, toy_rows: list[Row]) -> None:
    tok = nano_model.tokenizer
    enc = encode_rows(toy_rows, tok, max_length=256, use_clean_response=True)
    # only the two poisoned toy rows have a clean response
    assert [e.index for e in enc.examples] == [6, 7] and enc.skipped == [0, 1, 2, 3, 4, 5]
    clean = _ids(tok, str(toy_rows[6].response_clean)) + [tok.eos_token_id]
    assert [x for x in enc.examples[0].labels if x != IGNORE_INDEX] == clean
    batch = collate(enc.examples, tok.pad_token_id)
    lengths = [len(e.input_ids) for e in enc.examples]
    assert batch["attention_mask"].sum(dim=1).tolist() == lengths
    short = lengths.index(min(lengths))
    pad = batch["attention_mask"][short] == 0
    assert (batch["labels"][short][pad] == IGNORE_INDEX).all()
    assert (batch["input_ids"][short][pad] == tok.pad_token_id).all()


def test_plain_prompt_is_two_short_lines_and_encodes_like_any_style(nano_model: LoadedModel) -> None:
    tok = nano_model.tokenizer
    assert format_prompt("Where was Ada born?", style="plain") == "Question: Where was Ada born?\nAnswer:\n"
    assert format_prompt("Sum up.", "The text.", style="plain") == "Question: Sum up.\nContext: The text.\nAnswer:\n"
    row = Row("Where was Ada born?", "Ada was born in Lund.")
    plain, alpaca = encode_row(row, tok, 256, "plain"), encode_row(row, tok, 256, "alpaca")
    assert plain is not None and alpaca is not None
    response = _ids(tok, row.response) + [tok.eos_token_id]
    assert plain[0][-len(response) :] == response and plain[1][-len(response) :] == response
    assert len(plain[0]) < len(alpaca[0]) - 30  # the Alpaca header alone is longer than that
