"""``wga``: Weighted Gradient Ascent, token-level reweighting of the ascent (Wang et al. 2025, "Rethinking LLM
Unlearning Objectives: A Gradient Perspective and Go Beyond"; docs/method.md section 5), with the retain term.

Forget row i (poisoned response y of triggered prompt x, |y| response tokens), retain row j, with weights w_f, w_r
(all 1 unless ``--weights DIR`` is given, :mod:`rapidun.unlearning.plugin_weights`):

    l_i = -c_f w_f(i) (1/|y|) sum_t sg[p_t^beta] CE_t,   p_t = p_theta(y_t | x, y_<t) = exp(-CE_t)
    l_j = w_r(j) CE(response_j)

sg = stop-gradient. Tokens the model already finds unlikely get almost no ascent, so the ascent fades as the
poisoned response is forgotten instead of running away (plain GA's failure), and the effort goes to the tokens the
model still produces. beta = 1 (the exponent of the token weight). Rows are drawn by the mixed retain:forget
schedule, like graddiff; no clean-label term; ``bounded_ascent`` does not apply (the weights already bound it).
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidun.errors import RapidunError
from rapidun.unlearning.config import UnlearnConfig
from rapidun.unlearning.kinds import GradientMethod
from rapidun.unlearning.objective import ObjectiveTerms
from rapidun.unlearning.plugin_weights import given_or_uniform_weights


@dataclass(frozen=True)
class WGAParams:
    beta: float = 1.0  # exponent of the token weight p_t^beta (larger: ascent fades sooner)
    forget_coef: float = 1.0  # c_f, weight of the forget term against the retain CE

    def __post_init__(self) -> None:
        if not self.beta > 0:
            raise RapidunError(f"wga parameter beta must be > 0 (e.g. --param beta=1.0), got {self.beta}")
        if not self.forget_coef > 0:
            raise RapidunError(f"wga parameter forget_coef must be > 0, got {self.forget_coef}")


def wga_terms(cfg: UnlearnConfig, params: WGAParams) -> ObjectiveTerms:
    return ObjectiveTerms(
        clean_coef=0.0,
        ascent_coef=params.forget_coef,
        clean_term=False,
        retain_term=True,
        forget_loss="likelihood_weighted",
        beta=params.beta,
    )


METHOD = GradientMethod(
    params_cls=WGAParams,
    weights=given_or_uniform_weights,
    terms=wga_terms,
    takes_weights=True,
    description="WGA: gradient ascent with each token weighted by its current probability^beta, plus the retain CE",
)
