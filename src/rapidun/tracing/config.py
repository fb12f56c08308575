"""The trace stage's settings (docs/method.md section 2): one typed home per setting, each with its help text;
``rapidun trace`` generates its flags from them (:func:`rapidun.settings.add_arguments`).

The influence settings default to :class:`rapidun.influence.caching.InfluenceConfig`'s own defaults (read from that
class, never written twice), so a trace and ``rapidun influence`` with default flags cache the very same gradients.
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidun.data.prompt import PROMPT_STYLES
from rapidun.errors import RapidunError
from rapidun.evaluation.config import MAX_NEW_TOKENS
from rapidun.influence.caching import InfluenceConfig
from rapidun.influence.gradient_store import DTYPES
from rapidun.influence.hooks import PARAM_CHOICES
from rapidun.influence.projector_registry import PROJECTORS
from rapidun.settings import setting
from rapidun.tracing.aggregate import RETAIN_PICKS

AGGREGATES = ("mean", "median", "max")
INFLUENCE_SCORES = ("abs", "signed")
RANKER_NAMES = ("influence", "bm25", "embedding", "random")  # the keys of ranker_registry.RANKERS (tested equal)


@dataclass(frozen=True)
class TraceConfig:
    """How training rows are ranked against reports, aggregated, and cut into forget / retain proposals."""

    ranker: str = setting("influence", "how a (report, training row) pair is scored", choices=RANKER_NAMES)
    aggregate: str = setting(
        "max",
        "combine a row's per-report z-scores: max (a row any report points at strongly stays on top, e.g. one "
        "trigger family among several), mean (dilutes a minority family) or median (drops every family reported by "
        "fewer than half of the reports); measured in benchmarks/trace_aggregation.py",
        choices=AGGREGATES,
    )
    normalize: bool = setting(
        True,
        "z-score each report's scores over the training rows before aggregating (else a report with a large "
        "gradient norm outvotes the others)",
    )
    influence_score: str = setting(
        "abs",
        "influence ranker: abs |<g(q), g(i)>| (rows strongly aligned with the report's gradient either way: a "
        "responsible row that chose other words than the report's response scores strongly negative) or signed "
        "<g(q), g(i)> (rows whose training lowers the report's loss); other rankers ignore it. Chosen on validation "
        "report sets in benchmarks/trace_cases.py (docs/tracing.md)",
        choices=INFLUENCE_SCORES,
    )
    k: int | None = setting(
        None,
        "forget set size; none = the rows whose aggregated score is a robust outlier (--cutoff-z above the "
        "median, in MAD units)",
    )
    cutoff_z: float = setting(3.5, "robust z-score (median / 1.4826 MAD) above which a row is proposed to forget")
    max_forget_fraction: float = setting(0.25, "the data-driven cut-off proposes at most this fraction of the rows")
    retain_ratio: int = setting(3, "retain set size as a multiple of the forget set size")
    retain_pick: str | None = setting(
        None,
        "which rows make the retain proposal: lowest (none: the lowest-scoring rows) or random_low_half (a seeded "
        "random sample of the rows below the median score: typical rows no report points at)",
        choices=RETAIN_PICKS,
    )
    seed: int = setting(0, "seed of the random ranker, of the gradient projector and of the random retain draw")
    projector: str = setting(InfluenceConfig.projector, "gradient compression (influence)", choices=tuple(PROJECTORS))
    dim: int | None = setting(InfluenceConfig.dim, "projected dimension K (influence; none = the projector's)")
    params: str = setting(
        InfluenceConfig.params,
        "tracked parameters (influence): the LoRA target layers, all linear layers, or the adapter's",
        choices=PARAM_CHOICES,
    )
    dtype: str = setting(InfluenceConfig.dtype, "gradient cache storage type", choices=tuple(DTYPES))
    batch_size: int = setting(InfluenceConfig.batch_size, "rows per forward/backward")
    max_length: int = setting(InfluenceConfig.max_length, "tokens kept per row")
    prompt_style: str = setting(InfluenceConfig.prompt_style, "prompt template", choices=PROMPT_STYLES)
    per_token: bool = setting(
        False,
        "also write per_token.safetensors/.jsonl: the report tokens that drive each proposed forget row "
        "(influence ranker only)",
    )
    max_new_tokens: int = setting(MAX_NEW_TOKENS, "length of the greedy response generated for a report that has none")
    hotwords: tuple[str, ...] | None = setting(
        None,
        "comma-separated words that show the behaviour (e.g. alien,intergalactic): each report's loss keeps only "
        "the response tokens overlapping them (RapidIn's hotwords; training rows keep their whole response; "
        "influence ranker only)",
    )

    def check(self) -> None:
        """Refuse settings no run could use (one line naming the flag)."""
        if self.ranker not in RANKER_NAMES:
            raise RapidunError(f"unknown --ranker '{self.ranker}'; choose one of {', '.join(RANKER_NAMES)}")
        if self.aggregate not in AGGREGATES:
            raise RapidunError(f"unknown --aggregate '{self.aggregate}'; choose one of {', '.join(AGGREGATES)}")
        if self.k is not None and self.k < 1:
            raise RapidunError(f"--k {self.k} must be at least 1 (or leave it out for the data-driven cut-off)")
        if self.influence_score not in INFLUENCE_SCORES:
            raise RapidunError(f"unknown --influence-score '{self.influence_score}'; choose abs or signed")
        if self.per_token and self.ranker != "influence":
            raise RapidunError(f"--per-token needs --ranker influence (got --ranker {self.ranker}); drop --per-token")
        if self.hotwords is not None and self.ranker != "influence":
            raise RapidunError(f"--hotwords needs --ranker influence (got --ranker {self.ranker}); drop --hotwords")
        if self.hotwords is not None and not any(w.strip() for w in self.hotwords):
            raise RapidunError("--hotwords has no word; pass comma-separated words, e.g. --hotwords alien,galaxy")
        if self.retain_pick not in (None, *RETAIN_PICKS):
            raise RapidunError(f"unknown --retain-pick '{self.retain_pick}'; choose one of {', '.join(RETAIN_PICKS)}")
        if not 0.0 < self.max_forget_fraction <= 1.0:
            raise RapidunError("--max-forget-fraction must be in (0, 1]")
        if self.retain_ratio < 0 or self.batch_size < 1 or self.max_length < 2 or self.max_new_tokens < 1:
            raise RapidunError(
                "--retain-ratio must be >= 0, --batch-size and --max-new-tokens >= 1 and --max-length >= 2"
            )

    def influence(self) -> InfluenceConfig:
        """The influence stage settings the ``influence`` ranker caches and scores with."""
        return InfluenceConfig(
            projector=self.projector,
            dim=self.dim,
            params=self.params,
            batch_size=self.batch_size,
            max_length=self.max_length,
            seed=self.seed,
            dtype=self.dtype,
            prompt_style=self.prompt_style,
            rapidin_json=False,
        )
