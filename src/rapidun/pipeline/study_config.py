"""Typed configuration of a study: datasets x methods x seeds x sweeps (``rapidun study CONFIG.yaml``, and the
demo, which is a built-in study). Built from a plain dict (the CLI reads the YAML); unknown keys are errors that
name the key, so a typo never silently falls back to a default."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from typing import Any

from rapidun.errors import RapidunError
from rapidun.training.sft import LoraSettings, TrainConfig
from rapidun.unlearning import UnlearnConfig
from rapidun.unlearning.registry import get_method, is_known, method_names
from rapidun.weighting import WeightParams

DATASET_SOURCES = ("synthetic", "pack", "files")


@dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset's backdoor pack comes from.

    ``synthetic``: the embedded generator (``n_rows``, ``poison_rate``, ``triggers``); ``pack``: an existing
    ``rapidun poison`` directory; ``files``: row files (``clean`` list, ``poisoned_train``, optional ``val``,
    ``forget``, ``retain``) and a ``triggers`` set name or JSON file, e.g. the released Dolly packs."""

    name: str
    source: str = "synthetic"
    n_rows: int = 2000
    poison_rate: float = 0.05
    triggers: str = "released"
    seed: int = 42
    n_val: int | None = None
    n_test: int | None = None
    n_forget: int | None = None
    pack: str | None = None
    files: dict[str, Any] = field(default_factory=dict)
    keywords: str | None = None


@dataclass(frozen=True)
class EvalSettings:
    max_new_tokens: int = 32
    max_eval: int | None = 300  # rows per split (seeded subset, fixed across methods)
    batch_size: int = 32
    target_fpr: float = 0.05  # keyword-threshold calibration target on val (see evaluation.calibration)


@dataclass(frozen=True)
class CellSpec:
    """One unlearning configuration of the grid: a method, a label (for sweeps) and its settings."""

    method: str
    label: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    unlearn: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.method}~{self.label}" if self.label else self.method


@dataclass(frozen=True)
class StudyConfig:
    name: str = "study"
    datasets: tuple[DatasetSpec, ...] = (DatasetSpec("synthetic"),)
    model: str = "tiny"
    arch: str = "llama"
    backdoor: TrainConfig = TrainConfig()
    retrain: bool = True
    # Seeds that retrain the reference (None: every seed). Retraining dominates a study's cost at larger scales;
    # speedups of every seed are then measured against the mean of the retrained seeds.
    retrain_seeds: tuple[int, ...] | None = None
    methods: tuple[str, ...] = ("rapidun", "ga", "uniform", "self_only", "loreun", "fisher_ssd")
    seeds: tuple[int, ...] = (42,)
    unlearn: dict[str, Any] = field(default_factory=dict)
    method_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    sweeps: tuple[CellSpec, ...] = ()
    influence: dict[str, Any] = field(default_factory=dict)
    evaluation: EvalSettings = EvalSettings()

    def cells(self) -> list[CellSpec]:
        """Every unlearning cell of one (dataset, seed): the methods (with their params), then the sweeps."""
        out = [CellSpec(m, "", dict(self.method_params.get(m, {})), {}) for m in self.methods]
        return out + list(self.sweeps)

    def grid(self) -> list[tuple[int, CellSpec]]:
        """The (seed, cell) pairs of one dataset in run order: per seed, retraining first (when ``retrain`` is on
        and the seed is one of ``retrain_seeds``), then :meth:`cells`."""
        out: list[tuple[int, CellSpec]] = []
        for seed in self.seeds:
            if self.retrain and (self.retrain_seeds is None or seed in self.retrain_seeds):
                out.append((seed, CellSpec("retrain")))
            out.extend((seed, cell) for cell in self.cells())
        return out

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _build(cls: type, data: Any, where: str) -> Any:
    if isinstance(data, cls):
        return data
    if not isinstance(data, dict):
        raise RapidunError(f"{where} must be a mapping, got {type(data).__name__}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise RapidunError(f"unknown key(s) {', '.join(unknown)} in {where}; known: {', '.join(sorted(known))}")
    try:
        return cls(**data)
    except TypeError as exc:
        raise RapidunError(f"{where}: {exc}") from exc


def train_config(data: Any, where: str = "backdoor") -> TrainConfig:
    values = dict(data or {})
    if isinstance(values.get("lora"), dict):
        values["lora"] = _build(
            LoraSettings,
            {**values["lora"], "targets": tuple(values["lora"].get("targets", LoraSettings().targets))},
            f"{where}.lora",
        )
    return _build(TrainConfig, values, where)  # type: ignore[no-any-return]


def unlearn_config(data: dict[str, Any], seed: int) -> UnlearnConfig:
    """The unlearning recipe for one cell: defaults, then the study's and the cell's overrides, then the seed."""
    return UnlearnConfig.from_dict({**data, "seed": seed})


def method_params(method: str, data: dict[str, Any]) -> Any:
    """The method's params dataclass from a dict; a ``weights`` mapping becomes :class:`WeightParams`."""
    if not is_known(method):
        names = ", ".join(method_names(aliases=True))
        raise RapidunError(f"unknown method '{method}' in the study config; choose from {names}")
    cls = get_method(method).params_cls
    values = dict(data)
    if "weights" in values and isinstance(values["weights"], dict):
        weights: WeightParams = _build(WeightParams, values["weights"], f"{method}.params.weights")
        values["weights"] = weights.with_weighting("self_only") if method == "self_only" else weights
    for name in ("targets",):
        if isinstance(values.get(name), list):
            values[name] = tuple(values[name])
    return _build(cls, values, f"params of method '{method}'")


def study_config(data: dict[str, Any]) -> StudyConfig:
    """Validate a study dict (as read from YAML) into a :class:`StudyConfig`."""
    if not isinstance(data, dict):
        raise RapidunError("a study config must be a YAML mapping")
    values = dict(data)
    known = {f.name for f in fields(StudyConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise RapidunError(
            f"unknown key(s) {', '.join(unknown)} in the study config; known: {', '.join(sorted(known))}"
        )
    if "datasets" in values:
        ds = values["datasets"]
        if not isinstance(ds, list) or not ds:
            raise RapidunError("'datasets' must be a non-empty list")
        values["datasets"] = tuple(_build(DatasetSpec, d, f"datasets[{i}]") for i, d in enumerate(ds))
        names = [d.name for d in values["datasets"]]
        if len(set(names)) != len(names):
            raise RapidunError(f"dataset names must be unique, got {names}")
        for d in values["datasets"]:
            if d.source not in DATASET_SOURCES:
                raise RapidunError(f"dataset '{d.name}': source must be one of {', '.join(DATASET_SOURCES)}")
    if "backdoor" in values:
        values["backdoor"] = train_config(values["backdoor"])
    if "evaluation" in values:
        values["evaluation"] = _build(EvalSettings, values["evaluation"], "evaluation")
    if "sweeps" in values:
        values["sweeps"] = tuple(_build(CellSpec, s, f"sweeps[{i}]") for i, s in enumerate(values["sweeps"] or []))
    for key in ("methods", "seeds", "retrain_seeds"):
        if key in values and values[key] is not None:
            values[key] = tuple(values[key])
    cfg = StudyConfig(**values)
    if not cfg.seeds:
        raise RapidunError("'seeds' must list at least one seed")
    if cfg.retrain_seeds is not None and not set(cfg.retrain_seeds) & set(cfg.seeds):
        raise RapidunError(
            f"'retrain_seeds' {list(cfg.retrain_seeds)} shares no seed with 'seeds' {list(cfg.seeds)}; list at "
            "least one of the study's seeds (or drop the key to retrain with every seed)"
        )
    for cell in cfg.cells():  # fail before any work starts
        method_params(cell.method, cell.params)
        unlearn_config({**cfg.unlearn, **cell.unlearn}, cfg.seeds[0]).validate()
    labels = [c.key for c in cfg.cells()]
    if len(set(labels)) != len(labels):
        raise RapidunError(f"two cells share a method and label: {labels}; give each sweep a distinct 'label'")
    return cfg
