"""The released 40/120 packs: valid unlearning input, 320 faithful steps, clean term present on every forget row."""

from __future__ import annotations

from rapidun.data.rows import load_rows
from rapidun.unlearning import mixture_schedule
from rapidun.unlearning.inputs import check_rows, encode_unlearn_data


def test_released_packs_give_the_faithful_schedule(released_data, nano_model) -> None:
    packs = released_data / "unlearn_packs"
    forget, retain = load_rows(packs / "forget_set.jsonl"), load_rows(packs / "retain_set.jsonl")
    check_rows(forget, retain)
    data = encode_unlearn_data(forget, retain, nano_model.tokenizer, 256, "alpaca")
    assert (data.n_forget, data.n_retain, data.n_clean) == (40, 120, 40)
    schedule = mixture_schedule(data.n_forget, data.n_retain, epochs=2, batch_size=1, retain_ratio=3, seed=42)
    assert len(schedule) == 320
    no_clean = encode_unlearn_data(
        load_rows(packs / "forget_set_rapidin.jsonl"), retain, nano_model.tokenizer, 256, "alpaca"
    )
    assert no_clean.n_clean == 0  # RapidIn-format rows carry no clean response: the clean term is dropped
