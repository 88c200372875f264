"""Networks (generator, critic, VGG-19 features) and model files."""

import json
import pickle

import numpy as np
import pytest
import torch
from seeinggan.models import (
    ModelFileError,
    PatchCritic,
    UNetGenerator,
    VGG19Features,
    default_model_path,
    list_models,
    load_model,
    save_model,
    user_models_dir,
)
from seeinggan.models.generator import SubPixelUp
from seeinggan.models.vgg19 import VGG19_LAYERS


def _randomise_head(generator: UNetGenerator, seed: int = 0) -> None:
    # The residual generator's head starts at zero (identity); give it weights to test the rest.
    torch.manual_seed(seed)
    torch.nn.init.normal_(generator.head.weight, std=0.1)
    torch.nn.init.normal_(generator.head.bias, std=0.1)


@pytest.mark.parametrize("shape", [(32, 32), (64, 64), (48, 96)])
def test_generator_keeps_shape(shape):
    torch.manual_seed(0)
    generator = UNetGenerator(base_channels=4)
    x = torch.randn(2, 1, *shape)
    assert generator(x).shape == (2, 1, *shape)


def test_untrained_residual_generator_is_identity():
    generator = UNetGenerator(base_channels=4)
    x = torch.randn(1, 1, 32, 32)
    assert torch.equal(generator(x), x)


@pytest.mark.parametrize("shape", [(40, 40), (16, 16), (32, 33)])
def test_generator_refuses_sizes_it_cannot_take(shape):
    generator = UNetGenerator(base_channels=4)
    with pytest.raises(ValueError, match="multiples of 16 and at least 32"):
        generator(torch.zeros(1, 1, *shape))


def test_paper_width_generator_has_about_28m_parameters():
    generator = UNetGenerator(base_channels=64)
    n = sum(p.numel() for p in generator.parameters())
    assert n == 28_393_546  # the paper: "about 28 M"


def test_generator_config_round_trip():
    generator = UNetGenerator(base_channels=6, n_down=3, n_res=2)
    rebuilt = UNetGenerator.from_config(generator.config)
    assert rebuilt.config == generator.config
    with pytest.raises(ValueError, match="unknown generator settings: depth"):
        UNetGenerator.from_config({**generator.config, "depth": 3})


def test_icnr_subpixel_block_starts_as_nearest_neighbour_upsampling():
    torch.manual_seed(1)
    block = SubPixelUp(3, 5)
    y = block(torch.randn(2, 3, 8, 8))
    assert y.shape == (2, 5, 16, 16)
    # every 2x2 output cell holds one value: y == NN-upsample of its even samples
    nearest = y[..., ::2, ::2].repeat_interleave(2, -1).repeat_interleave(2, -2)
    assert torch.equal(y, nearest)


@pytest.mark.parametrize("residual", [True, False])
def test_icnr_constant_in_constant_out(residual):
    torch.manual_seed(2)
    generator = UNetGenerator(base_channels=4, residual=residual)
    _randomise_head(generator)
    out = generator(torch.full((1, 1, 64, 64), 0.7))
    spread = out.std().item() / out.abs().mean().item()
    assert spread < 1e-6, f"relative std {spread:.2e}: checkerboard or border ramp"


def test_without_icnr_a_constant_gives_a_checkerboard():
    # The same test fails without ICNR: it does test the initialisation.
    torch.manual_seed(2)
    generator = UNetGenerator(base_channels=4, residual=False, icnr=False)
    _randomise_head(generator)
    out = generator(torch.full((1, 1, 64, 64), 0.7))
    assert out.std().item() / out.abs().mean().item() > 1e-3


@pytest.mark.parametrize("shape", [(32, 32), (64, 64), (48, 80)])
def test_critic_scores_any_crop(shape):
    torch.manual_seed(0)
    critic = PatchCritic(base_channels=4)
    x = torch.randn(3, 1, *shape)
    scores = critic(x, torch.randn_like(x))
    assert scores.shape == (3,)
    assert torch.isfinite(scores).all()


def test_critic_is_conditional_and_checks_size():
    critic = PatchCritic(base_channels=4)
    x = torch.zeros(1, 1, 32, 32)
    with pytest.raises(ValueError, match="conditional"):
        critic(x)
    with pytest.raises(ValueError, match="at least 32"):
        critic(torch.zeros(1, 1, 16, 16), torch.zeros(1, 1, 16, 16))
    plain = PatchCritic(base_channels=4, conditional=False)
    assert plain(x).shape == (1,)


# --- VGG-19 -----------------------------------------------------------------------------------

def _torchvision_vgg19_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """A random state dict laid out as torchvision's vgg19 (features.N + classifier.N)."""
    gen = torch.Generator().manual_seed(seed)
    widths = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
              512, 512, 512, 512, "M"]
    state, index, channels = {}, 0, 3
    for item in widths:
        if item == "M":
            index += 1
            continue
        state[f"features.{index}.weight"] = torch.randn(item, channels, 3, 3, generator=gen) * 0.05
        state[f"features.{index}.bias"] = torch.randn(item, generator=gen) * 0.01
        channels, index = item, index + 2
    state["classifier.0.weight"] = torch.zeros(8, 8)  # torchvision files carry the classifier too
    return state


def test_vgg19_layer_names_match_torchvision_indices():
    # torchvision's vgg19.features: conv3_1 is index 10, its ReLU 11; conv5_4 is 34, ReLU 35
    assert VGG19_LAYERS["conv1_1"] == 1
    assert VGG19_LAYERS["conv3_1"] == 11
    assert VGG19_LAYERS["conv5_4"] == 35


def test_vgg19_features_load_safetensors_and_pth_alike(tmp_path):
    from safetensors.torch import save_file

    state = _torchvision_vgg19_state()
    save_file(state, str(tmp_path / "vgg19.safetensors"))
    torch.save(state, tmp_path / "vgg19.pth")
    a = VGG19Features(tmp_path / "vgg19.safetensors")
    b = VGG19Features(tmp_path / "vgg19.pth")
    x = torch.rand(2, 1, 32, 32)
    fa, fb = a(x), b(x)
    assert fa.shape == (2, 256, 8, 8)  # conv3_1: 256 channels after two poolings
    assert torch.equal(fa, fb)
    assert not any(p.requires_grad for p in a.parameters())
    # conv1_1 by hand: repeat to RGB, ImageNet-normalise, conv, ReLU
    first = VGG19Features(tmp_path / "vgg19.safetensors", layer="conv1_1")
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    rgb = (x.expand(-1, 3, -1, -1) - mean) / std
    expected = torch.relu(
        torch.nn.functional.conv2d(rgb, state["features.0.weight"], state["features.0.bias"], padding=1)
    )
    torch.testing.assert_close(first(x), expected, rtol=1e-5, atol=1e-6)


class _Payload:
    """An arbitrary object: weights-only loading must refuse to rebuild it."""


def test_vgg19_refuses_pickled_objects_and_bad_files(tmp_path):
    evil = tmp_path / "evil.pth"
    with open(evil, "wb") as handle:
        pickle.dump({"features.0.weight": _Payload()}, handle)
    with pytest.raises(ValueError, match="evil.pth: not a VGG-19 weights file"):
        VGG19Features(evil)
    with pytest.raises(ValueError, match="missing.pth: VGG-19 weights file not found"):
        VGG19Features(tmp_path / "missing.pth")
    state = _torchvision_vgg19_state()
    state["features.10.weight"] = torch.zeros(256, 64, 3, 3)
    torch.save(state, tmp_path / "wrong.pth")
    with pytest.raises(ValueError, match=r"wrong.pth: features.10.weight has shape"):
        VGG19Features(tmp_path / "wrong.pth")
    with pytest.raises(ValueError, match="unknown VGG-19 layer 'conv9_1'"):
        VGG19Features(tmp_path / "wrong.pth", layer="conv9_1")


# --- model files ------------------------------------------------------------------------------

def _trained_looking_generator(seed: int = 3) -> UNetGenerator:
    torch.manual_seed(seed)
    generator = UNetGenerator(base_channels=4)
    with torch.no_grad():
        for p in generator.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return generator.eval()


def test_save_load_round_trip_gives_identical_outputs(tmp_path):
    generator = _trained_looking_generator()
    path = save_model(
        tmp_path / "mine",
        generator,
        metadata={"intensity_transform": {"kind": "noise_scaled_asinh", "softening": 3.0}, "description": "test",
                  "training": {"steps": np.int64(5)}},
    )
    assert path == tmp_path / "mine.safetensors"
    assert (tmp_path / "mine.json").is_file()
    assert not list(tmp_path.glob(".*tmp"))  # atomic writes leave no temporaries
    x = torch.randn(2, 1, 64, 64)
    expected = generator(x)
    for name in ("mine.safetensors", "mine.json", "mine"):
        loaded, meta = load_model(tmp_path / name)
        assert torch.equal(loaded(x), expected)
    assert not loaded.training
    assert meta["format"] == "seeinggan-model" and meta["format_version"] == 1
    assert meta["architecture"] == generator.config
    assert meta["pixel_scale_arcsec"] == 0.03 and meta["input_pixel_scale_arcsec"] == 0.202
    assert meta["intensity_transform"]["softening"] == 3.0
    assert meta["training"]["steps"] == 5


def test_load_model_refuses_pickles_and_bad_json(tmp_path):
    save_model(tmp_path / "ok", _trained_looking_generator())
    # a pickle named .safetensors
    (tmp_path / "evil.json").write_text((tmp_path / "ok.json").read_text())
    torch.save(_trained_looking_generator().state_dict(), tmp_path / "evil.safetensors")
    with pytest.raises(ModelFileError, match="evil.safetensors: not a safetensors file"):
        load_model(tmp_path / "evil.safetensors")
    # JSON missing, not JSON, wrong format, newer version
    (tmp_path / "ok.safetensors").rename(tmp_path / "lonely.safetensors")
    with pytest.raises(ModelFileError, match="lonely.json: model metadata file not found"):
        load_model(tmp_path / "lonely.safetensors")
    (tmp_path / "lonely.json").write_text("{not json")
    with pytest.raises(ModelFileError, match="lonely.json: not a JSON file"):
        load_model(tmp_path / "lonely")
    (tmp_path / "lonely.json").write_text(json.dumps({"format": "keras"}))
    with pytest.raises(ModelFileError, match="lonely.json: not a seeinggan model"):
        load_model(tmp_path / "lonely")
    good = json.loads((tmp_path / "ok.json").read_text())
    (tmp_path / "lonely.json").write_text(json.dumps({**good, "format_version": 7}))
    with pytest.raises(ModelFileError, match="format version 7 is not supported"):
        load_model(tmp_path / "lonely")
    with pytest.raises(ModelFileError, match="nothing.safetensors: model weights file not found"):
        load_model(tmp_path / "nothing.json")


def test_load_model_reports_architecture_mismatch(tmp_path):
    save_model(tmp_path / "small", _trained_looking_generator())
    meta = json.loads((tmp_path / "small.json").read_text())
    meta["architecture"]["base_channels"] = 8
    (tmp_path / "small.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match="small.safetensors: tensors do not match the architecture"):
        load_model(tmp_path / "small")
    meta["architecture"]["name"] = "ResNet50"
    (tmp_path / "small.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match="small.json: bad architecture: unknown generator architecture"):
        load_model(tmp_path / "small")


def test_user_models_are_listed(tmp_path):
    folder = user_models_dir()  # conftest points it at a temporary folder
    save_model(folder / "finetuned", _trained_looking_generator(), metadata={"description": "my field"})
    (folder / "broken.json").write_text("{")
    (folder / "broken.safetensors").write_bytes(b"")
    entries = list_models()
    user = [e for e in entries if not e.shipped]
    assert [(e.name, e.description) for e in user] == [("finetuned", "my field")]
    try:
        default = default_model_path()
    except ModelFileError as error:
        assert "default model is missing" in str(error)
        assert all(not e.shipped for e in entries)
    else:
        assert entries[0].shipped and entries[0].path == default
        load_model(default)
