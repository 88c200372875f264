"""`seeinggan.devices`: the one home of device names, for inference, training and the docks."""

import pytest
import torch
from seeinggan.devices import available_devices, resolve_device
from seeinggan.errors import InputError


def test_available_devices_follow_what_torch_reports():
    devices = available_devices()
    assert devices[:2] == ["auto", "cpu"]
    assert ("cuda" in devices) == torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None)
    assert ("mps" in devices) == bool(mps is not None and mps.is_available())
    # every device offered resolves, and "auto" lands on the best one offered
    resolved = [resolve_device(name) for name in devices]
    expected_auto = "cuda" if "cuda" in devices else "mps" if "mps" in devices else "cpu"
    assert resolved[0].type == expected_auto
    assert resolved[1] == torch.device("cpu")


def test_resolve_device_passes_devices_through_and_refuses_unknown_names():
    given = torch.device("cpu")
    assert resolve_device(given) is given
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(InputError, match="unknown device 'gpu7'"):
        resolve_device("gpu7")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="no usable CUDA GPU"):
            resolve_device("cuda:1")


def test_inference_and_training_share_the_one_resolver():
    import seeinggan.infer
    import seeinggan.train

    assert seeinggan.infer.resolve_device is resolve_device
    assert seeinggan.train.resolve_device is resolve_device
