"""--device: auto resolves to the launcher's device, else a GPU when there is one, else the CPU; bad values and a
GPU request on a machine without one are one clear error."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from rapidun.errors import RapidunError
from rapidun.modeling.device import model_device, resolve_device


def test_auto_follows_the_accelerator_then_the_hardware() -> None:
    assert resolve_device("auto", SimpleNamespace(device=torch.device("cpu"))) == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize("spec", ["banana", "cuda:x"])
def test_a_bad_device_is_one_clear_error(spec: str) -> None:
    with pytest.raises(RapidunError, match="is not a device"):
        resolve_device(spec)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_asking_for_a_gpu_without_one_says_so() -> None:
    with pytest.raises(RapidunError, match="no CUDA GPU"):
        resolve_device("cuda:0")


def test_model_device_is_where_the_parameters_are() -> None:
    assert model_device(torch.nn.Linear(2, 2)) == torch.device("cpu")
    assert model_device(torch.nn.Module()) == torch.device("cpu")
