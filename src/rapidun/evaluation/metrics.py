"""Registry of evaluation metrics: name -> ``metric(model, rows, ctx) -> MetricResult``."""

from __future__ import annotations

from rapidun.evaluation.asr import asr
from rapidun.evaluation.clean_ppl import clean_ppl
from rapidun.evaluation.false_trigger import false_trigger_rate
from rapidun.evaluation.protocol import Metric

METRICS: dict[str, Metric] = {
    "asr": asr,
    "false_trigger_rate": false_trigger_rate,
    "clean_ppl": clean_ppl,
}
