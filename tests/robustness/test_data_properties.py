"""Property-based tests (hypothesis) of the data layer: rows survive dict, JSONL and JSON round trips with any
Unicode (zero-width characters, confusables, line separators), and tokenisation masks exactly the prompt and keeps
the response under truncation. Weight-mapping properties live in tests/weighting/test_mapping.py."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rapidun.data.rows import Row, load_rows, row_from_dict, write_rows
from rapidun.data.tokenize import IGNORE_INDEX, encode_row

# Characters that break naive text handling: zero-width (ZWSP, ZWNJ, ZWJ, word joiner, BOM), bidi controls,
# Cyrillic/Greek/Roman-numeral look-alikes of Latin letters, and the line separators str.splitlines() splits on.
TRICKY = '\u200b\u200c\u200d\u2060\ufeff\u202e\u2066\u043e\u0430\u0441\u03bf\u217c\uff41\u2028\u2029\x85\r\n\t"\\'
text = st.text(st.one_of(st.characters(codec="utf-8"), st.sampled_from(TRICKY)), max_size=40)
opt_text = st.none() | text
extra = st.dictionaries(
    st.text(min_size=1, max_size=8).filter(
        lambda k: (
            k
            not in {
                "instruction",
                "context",
                "input",
                "response",
                "output",
                "response_clean",
                "trigger_family",
                "trigger_variant",
                "is_poisoned",
            }
        )
    ),
    st.one_of(st.integers(-5, 5), text, st.booleans(), st.none()),
    max_size=3,
)
rows = st.builds(
    Row,
    instruction=text,
    response=text,
    context=text,
    response_clean=opt_text,
    trigger_family=opt_text,
    trigger_variant=opt_text,
    is_poisoned=st.none() | st.booleans(),
    extra=extra,
)


def _same(a: Row, b: Row) -> None:
    assert a == b
    assert a.extra == b.extra  # not part of Row equality


@settings(max_examples=200, deadline=None)
@given(rows)
def test_row_dict_round_trip(row: Row) -> None:
    _same(row_from_dict(row.to_dict(), "t"), row)


@settings(max_examples=60, deadline=None)
@given(st.lists(rows, min_size=1, max_size=6))
def test_jsonl_write_read_round_trip(batch: list[Row]) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "rows.jsonl"
        write_rows(path, batch)
        back = load_rows(path)
    assert len(back) == len(batch)
    for a, b in zip(back, batch):
        _same(a, b)


@settings(max_examples=60, deadline=None)
@given(st.lists(rows, min_size=1, max_size=6))
def test_json_list_read(batch: list[Row]) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "rows.json"
        path.write_text(json.dumps([r.to_dict() for r in batch], ensure_ascii=False), encoding="utf-8")
        back = load_rows(path)
    for a, b in zip(back, batch, strict=True):
        _same(a, b)


def _ids(tok, s: str) -> list[int]:
    return list(tok(s, add_special_tokens=False)["input_ids"])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    instruction=text,
    context=text,
    response=text.filter(lambda s: s != ""),
    max_length=st.integers(8, 96),
)
def test_tokenisation_masks_prompt_and_keeps_response(nano_model, instruction, context, response, max_length) -> None:
    tok = nano_model.tokenizer
    enc = encode_row(Row(instruction, response, context), tok, max_length)
    full_resp = _ids(tok, response) + [tok.eos_token_id]
    # max_length >= 8 always leaves room for response tokens: the prompt is cut to a quarter of max_length first.
    assert enc is not None
    ids, labels, cut = enc
    assert len(ids) == len(labels) <= max_length
    n_prompt = next(i for i, x in enumerate(labels) if x != IGNORE_INDEX)
    # -100 exactly on the prompt (a prefix), the real token ids everywhere after it
    assert all(x == IGNORE_INDEX for x in labels[:n_prompt])
    assert labels[n_prompt:] == ids[n_prompt:]
    assert n_prompt >= 1  # the BOS / response marker is never dropped
    kept = labels[n_prompt:]
    assert kept == full_resp[: len(kept)]  # only the response's tail is ever cut
    if len(full_resp) <= max_length - max_length // 4 - 1:
        assert kept == full_resp  # a response that fits next to a quarter of the prompt is kept whole
    if not cut:
        assert kept == full_resp
