"""What a study charges a cell: the shared influence stage to cells that read it, a cell's own influence to a cell
that computed its own (no double or wrong charge)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rapidun.pipeline.study_config import CellSpec
from rapidun.pipeline.study_results import cell_stages
from rapidun.unlearning.registry import influence_methods

SHARED = (Path("influence"), 7.0)


def test_a_cell_reading_the_shared_scores_is_charged_them() -> None:
    method = influence_methods()[0]
    run = {"wall_clock_s": 10.0, "stages": {"influence": {"seconds": 0.0}, "weights": {"seconds": 1.0}}}
    stages = cell_stages(run, CellSpec(method=method), SHARED)
    assert stages == {"influence_s": 7.0, "weights_s": 1.0, "training_s": 9.0}


def test_a_cell_that_computed_its_own_scores_is_charged_its_own() -> None:
    method = influence_methods()[0]
    run = {"wall_clock_s": 10.0, "stages": {"influence": {"seconds": 3.0}, "weights": {"seconds": 1.0}}}
    stages = cell_stages(run, CellSpec(method=method), SHARED)
    assert stages["influence_s"] == pytest.approx(3.0) and stages["training_s"] == pytest.approx(6.0)
