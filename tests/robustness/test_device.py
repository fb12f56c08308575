"""--device: auto resolves to the launcher's device, else a GPU when there is one, else the CPU; bad values and a
GPU request on a machine without one are one clear error."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from rapidun.errors import RapidunError
from rapidun.modeling.device import model_device, resolve_device


@pytest.mark.parametrize(("has_gpu", "expected"), [(True, "cuda"), (False, "cpu")])
def test_auto_follows_the_hardware(monkeypatch: pytest.MonkeyPatch, has_gpu: bool, expected: str) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: has_gpu)
    assert resolve_device("auto") == torch.device(expected)
    assert resolve_device("cpu") == torch.device("cpu")


def test_auto_follows_the_accelerator_before_the_hardware(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    launcher = SimpleNamespace(device=torch.device("cuda:1"))
    assert resolve_device("auto", launcher) == torch.device("cuda:1")


@pytest.mark.parametrize("spec", ["banana", "cuda:x"])
def test_a_bad_device_is_one_clear_error(spec: str) -> None:
    with pytest.raises(RapidunError, match="is not a device"):
        resolve_device(spec)


def test_asking_for_a_gpu_without_one_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RapidunError, match="no CUDA GPU"):
        resolve_device("cuda:0")


def test_model_device_is_where_the_parameters_are() -> None:
    assert model_device(torch.nn.Linear(2, 2)) == torch.device("cpu")
    assert model_device(torch.nn.Module()) == torch.device("cpu")
