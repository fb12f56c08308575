"""Backdoor evaluation (docs/method.md section 6): attack success rate on seen and OOD triggers, false-trigger rate on
clean prompts, and clean perplexity, each with its sample count and a 95% interval.

- :func:`evaluate_backdoor` (pure, in-memory model and rows) is what other stages call, e.g. unlearning's
  evaluate-every-N-steps; :func:`evaluate_dir` reads a pack directory and writes ``metrics.json`` and
  ``generations.jsonl``; :func:`validation_eval_fn` is checkpoint selection's evaluation, on validation rows only.
- Metrics are functions ``metric(model, rows, ctx) -> MetricResult`` listed in :data:`METRICS`; scorers (does a
  generation show the backdoor behaviour?) are listed in :data:`SCORERS`.
"""

from rapidun.evaluation.backdoor import EvalResult, evaluate_backdoor
from rapidun.evaluation.calibration import Calibration, calibrate_threshold
from rapidun.evaluation.directory import evaluate_dir
from rapidun.evaluation.generate import generate_responses
from rapidun.evaluation.intervals import bootstrap_ratio_interval, wilson_interval
from rapidun.evaluation.keyword_scorer import KeywordScorer, load_keywords
from rapidun.evaluation.metrics import METRICS
from rapidun.evaluation.protocol import EvalContext, Metric, MetricResult, Scorer
from rapidun.evaluation.scorer_registry import SCORERS
from rapidun.evaluation.table import format_metrics_table
from rapidun.evaluation.target_regex import RegexScorer
from rapidun.evaluation.validation import validation_eval_fn

__all__ = [
    "METRICS",
    "SCORERS",
    "Calibration",
    "EvalContext",
    "EvalResult",
    "KeywordScorer",
    "Metric",
    "MetricResult",
    "RegexScorer",
    "Scorer",
    "bootstrap_ratio_interval",
    "calibrate_threshold",
    "evaluate_backdoor",
    "evaluate_dir",
    "format_metrics_table",
    "generate_responses",
    "load_keywords",
    "validation_eval_fn",
    "wilson_interval",
]
