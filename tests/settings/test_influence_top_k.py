"""``rapidun influence --top-k K`` writes ``topk.safetensors``: per direction, (n_query, K) values and indices."""

from __future__ import annotations

import numpy as np
from safetensors.numpy import load_file

from rapidun.cli.main import main
from rapidun.data.rows import write_rows


def test_top_k_flag_writes_the_best_train_rows(toy_rows, tmp_path, capsys) -> None:
    forget, retain = toy_rows[5:], toy_rows[:5]
    write_rows(tmp_path / "f.jsonl", forget)
    write_rows(tmp_path / "r.jsonl", retain)
    out = tmp_path / "o"
    args = [
        "influence",
        "--model",
        "nano",
        "--forget",
        str(tmp_path / "f.jsonl"),
        "--retain",
        str(tmp_path / "r.jsonl"),
    ]
    # exact gradients, layer-normalised: a row's score with itself is the number of layers, the largest possible
    args += ["--out", str(out), "--projector", "exact", "--dtype", "fp32", "--top-k", "2", "--no-progress"]
    assert main(args) == 0
    assert "top-2" in capsys.readouterr().out
    top = load_file(str(out / "topk.safetensors"))
    n_f, n_r = len(forget), len(retain)
    shapes = {"FF": (n_f, 2), "FR": (n_r, 2), "RF": (n_f, 2), "RR": (n_r, 2)}
    assert {k: v.shape for k, v in top.items()} == {
        **{f"{k}_values": s for k, s in shapes.items()},
        **{f"{k}_indices": s for k, s in shapes.items()},
    }
    # each query's best match in its own set is itself
    np.testing.assert_array_equal(top["FF_indices"][:, 0], np.arange(n_f))
    np.testing.assert_array_equal(top["RR_indices"][:, 0], np.arange(n_r))
    scores = load_file(str(out / "scores.safetensors"))
    for name in shapes:
        best = np.take_along_axis(scores[name], top[f"{name}_indices"].astype(np.int64), axis=1)
        np.testing.assert_allclose(top[f"{name}_values"], best, rtol=1e-5)
        assert (top[f"{name}_values"][:, 0] >= top[f"{name}_values"][:, 1]).all()
