"""The trace stage: find the training rows behind reported misbehaviour (docs/method.md section 2).

``trace(model, tokenizer, train_rows, reports, out_dir, cfg)`` ranks every training row against a handful of
reported prompts with a ranker of :data:`~rapidun.tracing.ranker_registry.RANKERS` (influence by default), and
proposes a forget set and a retain set; :func:`load_traced_sets` reads them back for unlearning.
"""

from rapidun.tracing.config import TraceConfig
from rapidun.tracing.outputs import TraceResult, load_result, load_traced_sets
from rapidun.tracing.reports import Report, load_reports
from rapidun.tracing.stage import check_trace_inputs, needs_model, trace

__all__ = [
    "Report",
    "TraceConfig",
    "TraceResult",
    "check_trace_inputs",
    "load_reports",
    "load_result",
    "load_traced_sets",
    "needs_model",
    "trace",
]
