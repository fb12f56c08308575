"""Typed configuration of a study: datasets x methods x seeds x sweeps (``rapidun study CONFIG.yaml``, and the
demo, which is a built-in study). Built from a plain dict (the CLI reads the YAML); unknown keys are errors that
name the key, so a typo never silently falls back to a default."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Any

from rapidun.data.facts import FactsConfig
from rapidun.errors import RapidunError
from rapidun.influence.config import InfluenceConfig
from rapidun.pipeline.forget_sources import ForgetSource, forget_sources
from rapidun.pipeline.frontier_config import FrontierSpec, params_fields, sweep_cells
from rapidun.pipeline.relearn_config import RelearnConfig, relearn_block
from rapidun.pipeline.sequential import SequentialConfig
from rapidun.settings import SEED, from_mapping, setting, unknown_key_error, validate_tree
from rapidun.training.sft import TrainConfig
from rapidun.unlearning import UnlearnConfig
from rapidun.unlearning.registry import (
    default_study_methods,
    get_method,
    is_known,
    method_names,
    reference_method,
    weighting_of,
)
from rapidun.weighting import WEIGHTINGS, WeightParams

DATASET_SOURCES = ("synthetic", "pack", "files", "released-dolly", "facts")


@dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset's backdoor pack comes from.

    ``synthetic``: the embedded generator (``n_rows``, ``poison_rate``, ``triggers``); ``pack``: an existing
    ``rapidun poison`` directory; ``files``: row files (``clean`` list, ``poisoned_train``, optional ``val``,
    ``forget``, ``retain``) and a ``triggers`` set name or JSON file; ``released-dolly``: the released RapidUn Dolly
    packs shipped with rapidun (:mod:`rapidun.data.released`; their keyword list unless ``keywords`` is given);
    ``facts``: the embedded facts pack of ``rapidun facts`` with the ``facts`` settings (a ``pack`` that ``rapidun
    facts`` made is a facts dataset too)."""

    name: str = setting(help="dataset name (a directory of the study)")
    source: str = setting("synthetic", "where the pack comes from", choices=DATASET_SOURCES)
    n_rows: int = setting(2000, "rows generated (synthetic)")
    poison_rate: float = setting(0.05, "fraction of training rows poisoned (synthetic)")
    triggers: str = setting("released", "trigger set name or triggers JSON file")
    seed: int = setting(SEED, "seed of generation, poisoning and splits")
    n_val: int | None = setting(None, "validation rows (none: the pack's default)")
    n_test: int | None = setting(None, "clean test rows (none: the pack's default)")
    n_forget: int | None = setting(None, "forget rows (none: the pack's default)")
    pack: str | None = setting(None, "an existing pack directory (source: pack)")
    files: dict[str, Any] = setting(help="row files (source: files)", factory=dict)
    keywords: str | None = setting(None, "keyword list of the ASR scorer (none: the pack's keywords.tsv)")
    facts: FactsConfig | None = setting(None, "the facts pack's settings (source: facts; none: the defaults)")


@dataclass(frozen=True)
class EvalSettings:
    max_new_tokens: int = setting(32, "greedy decoding length")
    max_eval: int | None = setting(300, "rows per split (seeded subset, fixed across methods)")
    batch_size: int = setting(32, "generation / perplexity batch size")
    target_fpr: float = setting(0.05, "keyword-threshold calibration target on val (see evaluation.calibration)")


@dataclass(frozen=True)
class CellSpec:
    """One unlearning configuration of the grid: a method, a label (for sweeps) and its settings."""

    method: str = setting(help="method name (the registry's)")
    label: str = setting("", "sweep label (distinguishes cells of one method)")
    params: dict[str, Any] = setting(help="the method's parameters", factory=dict)
    unlearn: dict[str, Any] = setting(help="UnlearnConfig overrides of this cell", factory=dict)
    source: str = setting("", "forget source name (forget_sources); empty: the pack's forget and retain rows")

    @property
    def full_label(self) -> str:
        """The label with the forget source appended (``lr=0.001@infl10``): what names the cell's results."""
        return f"{self.label}@{self.source}" if self.source else self.label

    @property
    def key(self) -> str:
        return f"{self.method}~{self.full_label}" if self.full_label else self.method

    @property
    def group(self) -> str:
        """The frontier's grouping key: the method, and its forget source when the study names sources."""
        return f"{self.method}@{self.source}" if self.source else self.method


@dataclass(frozen=True)
class StudyConfig:
    name: str = setting("study", "study name (default output directory runs/NAME)")
    datasets: tuple[DatasetSpec, ...] = setting((DatasetSpec("synthetic"),), "datasets of the grid")
    model: str = setting("tiny", "model: hub id, directory or size name")
    arch: str = setting("llama", "architecture for size names")
    backdoor: TrainConfig = setting(help="the backdoor (and retraining) recipe", factory=TrainConfig)
    retrain: bool = setting(True, "retrain the reference")
    # Retraining dominates a study's cost at larger scales; speedups of every seed are then measured against the mean
    # of the retrained seeds.
    retrain_seeds: tuple[int, ...] | None = setting(None, "seeds that retrain the reference (none: every seed)")
    methods: tuple[str, ...] = setting(
        help="methods of the grid (default: the registry's)", factory=default_study_methods
    )
    seeds: tuple[int, ...] = setting((SEED,), "unlearning seeds")
    unlearn: dict[str, Any] = setting(help="UnlearnConfig overrides of every cell", factory=dict)
    method_params: dict[str, dict[str, Any]] = setting(help="each method's parameters", factory=dict)
    sweeps: tuple[CellSpec, ...] = setting((), "extra cells (a method with a label and settings)")
    # study_config() fills max_length and prompt_style from the backdoor recipe unless the block sets them
    influence: InfluenceConfig = setting(help="the shared influence stage", factory=InfluenceConfig)
    evaluation: EvalSettings = setting(help="evaluation of every cell", factory=EvalSettings)
    # Validation outcomes drive every choice (the frontier's operating points); test splits are only reported.
    validation: bool = setting(True, "also evaluate every cell on the pack's validation prompts")
    frontier: FrontierSpec | None = setting(None, "strength sweeps and perplexity budgets of the frontier")
    # Off by default: a study without the block writes exactly the cell records it always did.
    relearn: RelearnConfig | None = setting(None, "relearning check of every unlearned cell (retraining included)")
    # Off by default, like relearn: k + 1 more unlearning runs per cell (docs/method.md section 6).
    sequential: SequentialConfig | None = setting(
        None, "serve each cell's forget rows as k successive deletion requests, against one combined request"
    )
    # Off by default (every cell unlearns the pack's forget rows); with the block, every cell runs once per source.
    forget_sources: tuple[ForgetSource, ...] | None = setting(
        None, "where the forget/retain rows come from: oracle, or traced from validation reports"
    )

    def cells(self) -> list[CellSpec]:
        """Every unlearning cell of one (dataset, seed): the methods (with their params), the sweeps, then the
        frontier's sweep cells (per method, weakest to strongest); with ``forget_sources``, all of these once per
        source (a sweep that names its own source stays as it is)."""
        out = [CellSpec(m, "", dict(self.method_params.get(m, {})), {}) for m in self.methods]
        return self._per_source(out + list(self.sweeps)) + self.frontier_cells()

    def frontier_cells(self) -> list[CellSpec]:
        if self.frontier is None:
            return []
        return self._per_source([CellSpec(*cell) for cell in sweep_cells(self.frontier, self.method_params)])

    def _per_source(self, cells: list[CellSpec]) -> list[CellSpec]:
        if not self.forget_sources:
            return cells
        return [c if c.source else dataclasses.replace(c, source=s.name) for s in self.forget_sources for c in cells]

    def source(self, name: str) -> ForgetSource | None:
        """The forget source called ``name`` (None for the empty name: the pack's rows)."""
        return next((s for s in self.forget_sources or () if s.name == name), None)

    def grid(self) -> list[tuple[int, CellSpec]]:
        """The (seed, cell) pairs of one dataset in run order: per seed, retraining first (when ``retrain`` is on
        and the seed is one of ``retrain_seeds``), then :meth:`cells`."""
        out: list[tuple[int, CellSpec]] = []
        for seed in self.seeds:
            if self.retrain and (self.retrain_seeds is None or seed in self.retrain_seeds):
                out.append((seed, CellSpec(reference_method())))
            out.extend((seed, cell) for cell in self.cells())
        return out

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


WHERE = "study config"


def train_config(data: Any, where: str = "backdoor") -> TrainConfig:
    config: TrainConfig = from_mapping(TrainConfig, data or {}, WHERE, section=where)
    return config


def unlearn_config(data: dict[str, Any], seed: int, section: str = "unlearn") -> UnlearnConfig:
    """The unlearning recipe for one cell: defaults, then the study's and the cell's overrides, then the seed."""
    config: UnlearnConfig = from_mapping(UnlearnConfig, {**data, "seed": seed}, WHERE, section=section)
    return config


def resolved_unlearn_config(data: dict[str, Any], seed: int, model: Any) -> UnlearnConfig:
    """The cell's unlearning recipe with ``targets: auto`` replaced by the layer names it resolves to on ``model``,
    so the cell's run.json and results.json record the adapted layers (as ``rapidun unlearn`` does)."""
    return unlearn_config(data, seed).with_targets_resolved(model)


def method_params(method: str, data: dict[str, Any], section: str = "") -> Any:
    """The method's params dataclass from a dict; a ``weights`` mapping becomes :class:`WeightParams`."""
    if not is_known(method):
        names = ", ".join(method_names(aliases=True))
        raise RapidunError(f"unknown method '{method}' in the study config; choose from {names}")
    cls = get_method(method).params_cls
    section = section or f"method_params.{method}"
    values = dict(data)
    if "weights" in values and isinstance(values["weights"], dict):
        weights: WeightParams = from_mapping(WeightParams, values["weights"], WHERE, section=f"{section}.weights")
        named = weighting_of(method)  # an influence method applies its named weighting on top of the given params
        values["weights"] = weights.with_weighting(named) if named and WEIGHTINGS[named] else weights
    params = from_mapping(cls, values, WHERE, section=section)
    validate_tree(params)
    return params


def _datasets(data: Any) -> tuple[DatasetSpec, ...]:
    if not isinstance(data, list) or not data:
        raise RapidunError(f"{WHERE}: 'datasets' must be a non-empty list")
    specs = tuple(from_mapping(DatasetSpec, d, WHERE, section=f"datasets[{i}]") for i, d in enumerate(data))
    for i, spec in enumerate(specs):
        if spec.facts is not None and spec.source != "facts":
            raise RapidunError(f"{WHERE}: datasets[{i}]: a 'facts' block needs 'source: facts' (got '{spec.source}')")
        if spec.facts is not None:
            try:
                spec.facts.validate()
            except RapidunError as exc:  # the check names the CLI flag; here the key lives in the facts block
                raise RapidunError(f"{WHERE}: datasets[{i}].facts: {exc}") from exc
    names = [d.name for d in specs]
    if len(set(names)) != len(names):
        raise RapidunError(f"dataset names must be unique, got {names}")
    return specs


def study_config(data: dict[str, Any]) -> StudyConfig:
    """Validate a study dict (as read from YAML) into a :class:`StudyConfig`; every section (datasets, backdoor,
    unlearn, method parameters, sweeps, influence, evaluation) is checked here, before any work starts."""
    if not isinstance(data, dict):
        raise RapidunError("a study config must be a YAML mapping")
    values = dict(data)
    known = {f.name for f in fields(StudyConfig)}
    for key in values:
        if key not in known:
            raise unknown_key_error(str(key), known, WHERE)
    if "datasets" in values:
        values["datasets"] = _datasets(values["datasets"])
    values["backdoor"] = train_config(values.get("backdoor"))
    # influence reads the examples the backdoor was trained on unless the block says otherwise
    run = {"max_length": values["backdoor"].max_length, "prompt_style": values["backdoor"].prompt_style}
    influence = values.get("influence") or {}
    values["influence"] = from_mapping(
        InfluenceConfig, {**run, **influence} if isinstance(influence, dict) else influence, WHERE, section="influence"
    )
    values["influence"].validate()
    values["sweeps"] = tuple(
        from_mapping(CellSpec, s, WHERE, section=f"sweeps[{i}]") for i, s in enumerate(values.get("sweeps") or [])
    )
    if isinstance(values.get("relearn"), dict):
        values["relearn"] = relearn_block(values["relearn"], values["backdoor"], WHERE)
    if isinstance(values.get("sequential"), dict):
        values["sequential"] = from_mapping(SequentialConfig, values["sequential"], WHERE, section="sequential")
    if values.get("forget_sources") is not None:
        values["forget_sources"] = forget_sources(values["forget_sources"], _known_families(values.get("datasets")))
    cfg: StudyConfig = from_mapping(StudyConfig, values, WHERE)
    _check(cfg)
    return cfg


def _known_families(datasets: Any) -> dict[str, set[str] | None]:
    """Each dataset's trigger family names when known before its pack exists (a synthetic dataset's trigger set);
    None for the others (their families are checked when the reports are drawn)."""
    from rapidun.data.triggers import resolve_triggers

    out: dict[str, set[str] | None] = {}
    for spec in datasets or (DatasetSpec("synthetic"),):
        out[spec.name] = {f.name for f in resolve_triggers(spec.triggers)} if spec.source == "synthetic" else None
    return out


def _check(cfg: StudyConfig) -> None:
    if not cfg.seeds:
        raise RapidunError("'seeds' must list at least one seed")
    if cfg.retrain_seeds is not None and not set(cfg.retrain_seeds) & set(cfg.seeds):
        raise RapidunError(
            f"'retrain_seeds' {list(cfg.retrain_seeds)} shares no seed with 'seeds' {list(cfg.seeds)}; list at "
            "least one of the study's seeds (or drop the key to retrain with every seed)"
        )
    unlearn_config(cfg.unlearn, cfg.seeds[0]).validate()  # fail before any work starts
    for m in cfg.methods:
        method_params(m, cfg.method_params.get(m, {}))
    for i, cell in enumerate(cfg.sweeps):
        method_params(cell.method, cell.params, f"sweeps[{i}].params")
        unlearn_config({**cfg.unlearn, **cell.unlearn}, cfg.seeds[0], f"sweeps[{i}].unlearn").validate()
    if cfg.frontier is not None:
        cfg.frontier.validate()
        for cell in cfg.frontier_cells():
            where = f"frontier.sweep.{cell.method}"
            knob = next(iter(cfg.frontier.sweep[cell.method]))
            if is_known(cell.method) and not cell.unlearn and knob not in params_fields(get_method(cell.method)):
                raise RapidunError(
                    f"{WHERE}: {where}: '{knob}' is neither an unlearning setting (lr, epochs, ...) nor a parameter "
                    f"of {cell.method}; sweep one of those"
                )
            method_params(cell.method, cell.params, where)
            unlearn_config({**cfg.unlearn, **cell.unlearn}, cfg.seeds[0], where).validate()
    if cfg.sequential is not None and cfg.sequential.requests < 1:
        raise RapidunError(f"{WHERE}: sequential: 'requests' must be >= 1, got {cfg.sequential.requests}")
    for i, cell in enumerate(cfg.sweeps):
        if cell.source and cfg.source(cell.source) is None:
            raise RapidunError(f"{WHERE}: sweeps[{i}].source '{cell.source}' is not a name in forget_sources")
    labels = [c.key for c in cfg.cells()]
    if len(set(labels)) != len(labels):
        raise RapidunError(f"two cells share a method and label: {labels}; give each sweep a distinct 'label'")
