"""The method registry: every method name, alias and capability, in one literal dict (docs/method.md section 5).

One method = one file in :mod:`rapidun.unlearning.methods` = one entry in :data:`METHODS`, with the same name in
the file, the key, the YAML and the params class (``ga.py``, ``"ga"``, ``method: ga``, ``GAParams``). A method's
capabilities (uses influence, writes an adapter or edits base weights, needs a reference model, refreshes its
weights during training, is the retraining reference) are declared on its ``METHOD`` value (see
:mod:`rapidun.unlearning.kinds`); the functions below answer questions about them, so no other module of ``src/``
writes a method name. The order of :data:`METHODS` is the order of the report's tables and figures. The contract
tests parametrise over :data:`METHODS`.
"""

from __future__ import annotations

from rapidun.errors import RapidunError
from rapidun.unlearning.kinds import EditMethod, GradientMethod, RetrainMethod
from rapidun.unlearning.methods import (
    fisher_noise,
    fisher_ssd,
    ga,
    loreun,
    loreun_dynamic,
    npo,
    rapidun,
    rapidun_batch_normalised,
    rapidun_contrastive,
    rapidun_coverage,
    rapidun_dynamic,
    rapidun_sampled,
    rapidun_saturation,
    retrain,
    self_only,
    simnpo,
    uniform,
    wga,
)

Method = GradientMethod | EditMethod | RetrainMethod

# Canonical names, in report order: the retraining reference first, then influence weighting and its ablations,
# then the other baselines.
METHODS: dict[str, Method] = {
    "retrain": retrain.METHOD,
    "rapidun": rapidun.METHOD,
    "uniform": uniform.METHOD,
    "self_only": self_only.METHOD,
    "rapidun_dynamic": rapidun_dynamic.METHOD,
    "rapidun_contrastive": rapidun_contrastive.METHOD,
    "rapidun_sampled": rapidun_sampled.METHOD,
    "rapidun_batch_normalised": rapidun_batch_normalised.METHOD,
    "rapidun_coverage": rapidun_coverage.METHOD,
    "rapidun_saturation": rapidun_saturation.METHOD,
    "ga": ga.METHOD,
    "loreun": loreun.METHOD,
    "loreun_dynamic": loreun_dynamic.METHOD,
    "npo": npo.METHOD,
    "simnpo": simnpo.METHOD,
    "wga": wga.METHOD,
    "fisher_ssd": fisher_ssd.METHOD,
    "fisher_noise": fisher_noise.METHOD,
}
# Other names of the same method (alias -> canonical name). A run keeps the name its user wrote (run.json, the
# study's cell directory and results), so existing results keep their method names.
ALIASES: dict[str, str] = {
    "graddiff": "uniform",  # gradient difference: the RapidUn objective with every weight 1
}
# What ``rapidun unlearn`` runs when no --method is given.
DEFAULT_METHOD = "rapidun"
# The methods of a study that names none, and of ``rapidun demo``, in run order.
DEFAULT_STUDY: tuple[str, ...] = ("rapidun", "ga", "uniform", "self_only", "loreun", "fisher_ssd")
# Parameters the demo's full run sets for ~1M-parameter models trained from scratch (measured on the demo data, see
# BENCHMARKS.md): SSD's selection alpha = 2, since its default 10 dampens too few weights to change the backdoor.
DEMO_PARAMS: dict[str, dict[str, float]] = {"fisher_ssd": {"alpha": 2.0}}


def resolve(name: str) -> str:
    """The canonical name of ``name`` (itself, or what the alias stands for); an unknown name is a RapidunError."""
    if name in METHODS:
        return name
    if name in ALIASES:
        return ALIASES[name]
    raise RapidunError(f"unknown --method '{name}'; choose one of {', '.join(method_names(aliases=True))}")


def get_method(name: str) -> Method:
    """The ``METHOD`` value registered under ``name`` or one of its aliases."""
    return METHODS[resolve(name)]


def is_known(name: str) -> bool:
    return name in METHODS or name in ALIASES


def method_names(aliases: bool = False) -> tuple[str, ...]:
    """Canonical names in registry order; with ``aliases``, each followed by its aliases (what a user may write)."""
    if not aliases:
        return tuple(METHODS)
    return tuple(n for name in METHODS for n in (name, *(a for a, c in ALIASES.items() if c == name)))


def influence_methods() -> tuple[str, ...]:
    """Canonical names of the methods that read influence scores (or a weights directory)."""
    return tuple(n for n, m in METHODS.items() if m.uses_influence)


def uses_influence(name: str) -> bool:
    """True when the method named ``name`` (or aliased by it) reads influence scores; False for unknown names."""
    return is_known(name) and get_method(name).uses_influence


def is_reference(name: str) -> bool:
    """True for the retraining reference (speed-ups are measured against it); False for unknown names, e.g. the
    ``backdoored`` record of a study, or a method of an older results file."""
    return is_known(name) and get_method(name).is_reference


def reference_method() -> str:
    """The name of the retraining reference: the one method whose kind is ``retrain``."""
    found = [n for n, m in METHODS.items() if m.is_reference]
    if len(found) != 1:
        raise RapidunError(f"the registry must hold exactly one retraining reference, found {found}")
    return found[0]


def weighting_of(name: str) -> str | None:
    """The named weighting (:data:`rapidun.weighting.WEIGHTINGS`) the method's influence weights apply, or None."""
    return get_method(name).weighting


def report_order() -> tuple[str, ...]:
    """Method names in the order of the report's tables and figures: registry order, each alias after its method."""
    return method_names(aliases=True)


def default_study_methods() -> tuple[str, ...]:
    return DEFAULT_STUDY


def demo_params() -> dict[str, dict[str, float]]:
    return {name: dict(values) for name, values in DEMO_PARAMS.items()}


def capabilities(name: str) -> dict[str, object]:
    """What the method does, as a flat mapping (used for CLI help, CONTRIBUTING.md and the contract tests)."""
    m = get_method(name)
    return {
        "kind": m.kind,
        "output": m.output,
        "edits_base": m.edits_base,
        "uses_influence": m.uses_influence,
        "needs_reference": m.needs_reference,
        "refreshes_weights": m.refreshes_weights,
        "is_reference": m.is_reference,
    }


def describe_methods() -> list[str]:
    """One line per method for CLI help: ``name (aliases): description [capabilities]``."""
    lines = []
    for name, m in METHODS.items():
        aliases = [a for a, c in ALIASES.items() if c == name]
        flags = [m.output.replace("_", " ")]
        flags += [text for key, text in _FLAG_TEXT.items() if getattr(m, key)]
        shown = f"{name} (= {', '.join(aliases)})" if aliases else name
        default = ", the default" if name == DEFAULT_METHOD else ""
        lines.append(f"{shown}: {m.description}{default} [{'; '.join(flags)}]")
    return lines


_FLAG_TEXT = {
    "uses_influence": "uses influence",
    "needs_reference": "keeps a reference model",
    "refreshes_weights": "refreshes weights while training",
    "is_reference": "speed-up reference",
}
