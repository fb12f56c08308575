"""``npo``: Negative Preference Optimization with the retain term, NPO+RT (Zhang, Lin, Bai, Mei 2024;
docs/method.md section 5).

Forget row i (poisoned response y of triggered prompt x), retain row j, with weights w_f, w_r (all 1 unless
``--weights DIR`` is given, :mod:`rapidun.unlearning.plugin_weights`):

    l_i = c_f w_f(i) * -(2/beta) log sigmoid(-beta (log p_theta(y|x) - log p_ref(y|x)))
    l_j = w_r(j) CE(response_j)

log p(y|x) is the SUM of the response tokens' log-probabilities (not the token mean: the paper's sequence
likelihood ratio). p_ref is the model before unlearning, frozen: with LoRA, the same backbone with the new adapter
disabled, evaluated once per forget row before training (no dropout) and cached, since it never changes.
beta = 0.1 (the paper's); as beta -> 0 the gradient tends to GA's on the summed log-likelihood. At the start a
forget row's loss is (2/beta) log 2 (13.9 at beta 0.1), so a sweep below beta ~0.028 must raise ``--max-abs-loss``
(default 50) or the divergence guard stops it. Rows are drawn by the mixed retain:forget schedule, like graddiff;
no clean-label term. The recipe's ``ascent_coef``, ``clean_coef`` and ``bounded_ascent`` do not apply (the loss is
bounded below by 0); ``forget_coef`` sets c_f.
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidun.errors import RapidunError
from rapidun.unlearning.config import UnlearnConfig
from rapidun.unlearning.kinds import GradientMethod
from rapidun.unlearning.objective import ObjectiveTerms
from rapidun.unlearning.plugin_weights import given_or_uniform_weights


@dataclass(frozen=True)
class NPOParams:
    beta: float = 0.1  # inverse temperature of the preference loss (Zhang et al. 2024)
    forget_coef: float = 1.0  # c_f, weight of the NPO term against the retain CE (NPO+RT: 1)

    def __post_init__(self) -> None:
        if not self.beta > 0:
            raise RapidunError(f"npo parameter beta must be > 0 (e.g. --param beta=0.1), got {self.beta}")
        if not self.forget_coef > 0:
            raise RapidunError(f"npo parameter forget_coef must be > 0, got {self.forget_coef}")


def npo_terms(cfg: UnlearnConfig, params: NPOParams) -> ObjectiveTerms:
    return ObjectiveTerms(
        clean_coef=0.0,
        ascent_coef=params.forget_coef,
        clean_term=False,
        retain_term=True,
        forget_loss="reference_ratio",
        beta=params.beta,
    )


METHOD = GradientMethod(
    params_cls=NPOParams,
    weights=given_or_uniform_weights,
    terms=npo_terms,
    takes_weights=True,
    needs_reference=True,
    description="NPO forget loss against the starting model, plus the retain CE (NPO+RT)",
)
