"""The printed summary of a CPU run of the influence benchmark; also adds the headline ``ratios`` to the results."""

from __future__ import annotations


def report(res: dict) -> None:
    """Print the speed table, the headline ratios (stored as ``res["ratios"]``), kronfluence status, scoring rate,
    fidelity and backdoor AUCs."""
    V = res["variants"]
    fl = V["floor"]["samples_per_s"]
    plain_mb = V["plain fwd+bwd"]["peak_mb"]
    m = res["model"]
    print(
        f"model: {m['params'] / 1e6:.1f}M params, {m['tracked'] / 1e6:.1f}M tracked in {m['layers']} layers, "
        f"seq {m['seq']}, batch {m['batch']}, threads {res['machine']['threads']}"
    )
    print("samples/s = samples per CPU-second of this process (best of reps); wall = per wall-second")
    print(
        f"{'variant':<22}{'samples/s':>11}{'x floor':>9}{'wall/s':>9}{'peak MiB':>10}{'x plain':>9}"
        f"{'cache B/sample':>16}"
    )
    for k, v in V.items():
        cb = v.get("cache_bytes_per_sample")
        print(
            f"{k:<22}{v['samples_per_s']:>11.2f}{v['samples_per_s'] / fl:>9.3f}{v['wall_samples_per_s']:>9.2f}"
            f"{v['peak_mb']:>10.1f}"
            f"{v['peak_mb'] / max(plain_mb, 1e-9):>9.2f}{'' if cb is None else f'{cb:,}':>16}"
        )
    d = V["default"]["samples_per_s"]
    ratios = {
        "default/floor": d / fl,
        "rapidgrad/floor": V["rapidgrad"]["samples_per_s"] / fl,
        "default/rapidin": d / V["rapidin"]["samples_per_s"],
        "default/naive-loop": d / V["naive-loop"]["samples_per_s"],
        "caching peak / plain": V["default+cache"]["peak_mb"] / max(plain_mb, 1e-9),
    }
    if "kronfluence identity" in V:
        ratios["default/kronfluence identity"] = d / V["kronfluence identity"]["samples_per_s"]
    if "kronfluence ekfac" in V:
        ratios["default/kronfluence ekfac"] = d / V["kronfluence ekfac"]["samples_per_s"]
    res["ratios"] = ratios
    print("ratios: " + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()))
    if "kronfluence" in res:
        print(f"kronfluence: {res['kronfluence']}")
    s = res.get("scoring", {"pairs_per_s_per_core": float("nan"), "K": 4096, "queries": 0, "train": 0})
    print(f"scoring: {s['pairs_per_s_per_core'] / 1e6:.1f}M pairs/s/core (K={s['K']}, {s['queries']}x{s['train']})")
    for k, v in res.get("fidelity", {}).items():
        print(f"fidelity {k:<18} pearson {v['pearson']:.3f}  spearman {v['spearman']:.3f}  top10 {v['top10']:.3f}")
    for data, aucs in res.get("backdoor_auc", {}).items():
        print(f"backdoor AUC ({data}): " + ", ".join(f"{k} {v}" for k, v in aucs.items()))
