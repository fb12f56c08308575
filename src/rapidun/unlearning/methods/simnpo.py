"""``simnpo``: SimNPO, reference-free and length-normalised NPO with a margin (Fan et al. 2024, "Simplicity
Prevails"; docs/method.md section 5).

Forget row i (poisoned response y of triggered prompt x, |y| response tokens), retain row j, with weights w_f, w_r
(all 1 unless ``--weights DIR`` is given, :mod:`rapidun.unlearning.plugin_weights`):

    l_i = c_f w_f(i) * -(2/beta) log sigmoid(-(beta/|y|) log p_theta(y|x) - gamma)
    l_j = w_r(j) CE(response_j)

log p(y|x) is the SUM of the response tokens' log-probabilities, so (1/|y|) log p is minus the token-mean CE.
Defaults are the paper's TOFU forget05 setting as its released code runs it (OPTML-Group/Unlearn-Simple,
TOFU/README.md: ``beta=2.5``, ``npo_coeff=0.1375`` on the forget loss, ``gamma=0.0``, retain coefficient 1).
Rows are drawn by the mixed retain:forget schedule, like graddiff; no clean-label term. The recipe's
``ascent_coef``, ``clean_coef`` and ``bounded_ascent`` do not apply (the loss is bounded below by 0);
``forget_coef`` sets c_f.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rapidun.errors import RapidunError
from rapidun.unlearning.config import UnlearnConfig
from rapidun.unlearning.kinds import GradientMethod
from rapidun.unlearning.objective import ObjectiveTerms
from rapidun.unlearning.plugin_weights import given_or_uniform_weights


@dataclass(frozen=True)
class SimNPOParams:
    beta: float = 2.5  # inverse temperature (TOFU forget05)
    gamma: float = 0.0  # reward margin (TOFU)
    forget_coef: float = 0.1375  # c_f, the released code's npo_coeff (TOFU forget05); the retain CE has weight 1

    def __post_init__(self) -> None:
        if not self.beta > 0:
            raise RapidunError(f"simnpo parameter beta must be > 0 (e.g. --param beta=2.5), got {self.beta}")
        if not math.isfinite(self.gamma):
            raise RapidunError(f"simnpo parameter gamma must be a finite number, got {self.gamma}")
        if not self.forget_coef > 0:
            raise RapidunError(f"simnpo parameter forget_coef must be > 0, got {self.forget_coef}")


def simnpo_terms(cfg: UnlearnConfig, params: SimNPOParams) -> ObjectiveTerms:
    return ObjectiveTerms(
        clean_coef=0.0,
        ascent_coef=params.forget_coef,
        clean_term=False,
        retain_term=True,
        forget_loss="length_normalised",
        beta=params.beta,
        gamma=params.gamma,
    )


METHOD = GradientMethod(
    params_cls=SimNPOParams,
    weights=given_or_uniform_weights,
    terms=simnpo_terms,
    takes_weights=True,
    description="SimNPO: length-normalised, reference-free NPO with a margin, plus the retain CE",
)
