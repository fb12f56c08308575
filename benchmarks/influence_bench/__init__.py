"""The parts of ``benchmarks/influence.py`` (run that script; see its docstring and BENCHMARKS.md section 8).

- :mod:`.measure`: timing (best CPU and wall seconds over interleaved repetitions) and peak resident memory;
- :mod:`.workload`: the benchmark model's data (a random Markov language) and its brief training;
- :mod:`.extraction`: the variants of the speed table that use our hooks (plain, floor, projectors);
- :mod:`.rapidin`: the naive per-sample loop and RapidIn's flatten-shuffle-pool path;
- :mod:`.kronfluence_run`: kronfluence end to end (optional dependency);
- :mod:`.fidelity`: projected vs exact scores (Pearson, Spearman, top-10 overlap);
- :mod:`.backdoor_auc`: finding poisoned training rows from forget-query scores, normalised vs raw;
- :mod:`.cpu_run` / :mod:`.gpu_run`: the two benchmark runs; :mod:`.report`: the printed summary.
"""
