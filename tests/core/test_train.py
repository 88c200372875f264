"""Training: config, steps that learn, exact resume, stop requests, callbacks, model files."""

import math

import numpy as np
import pytest
import torch
from seeinggan.models import load_model, save_model
from seeinggan.train import (
    CheckpointError,
    ConfigError,
    History,
    PreviewUpdate,
    StepUpdate,
    TrainConfig,
    Trainer,
    ValidationUpdate,
    load_checkpoint,
)
from seeinggan.train.config import parse_overrides
from torch.utils.data import Dataset


class BlobPairs(Dataset):
    """Tiny deterministic pairs: a sharp Gaussian blob (target) and its blurred, noisy copy."""

    def __init__(self, n: int = 8, *, size: int = 32, seed: int = 0):
        self.n, self.size, self.seed = n, size, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index):
        rng = np.random.default_rng([self.seed, index])
        yy, xx = np.mgrid[: self.size, : self.size].astype(np.float32)
        cy, cx = rng.uniform(10, self.size - 10, 2)
        sharp = 3.0 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 1.5**2))
        blurred = 3.0 * (1.5**2 / 3.5**2) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 3.5**2))
        blurred = blurred + rng.normal(0, 0.05, blurred.shape)
        # flips decided by the epoch, as a real augmenting dataset does
        if (self.epoch + index) % 2:
            sharp, blurred = sharp[:, ::-1], blurred[:, ::-1]
        as_tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))[None]  # noqa: E731
        return as_tensor(blurred), as_tensor(sharp)


def tiny_config(tmp_path, **changes) -> TrainConfig:
    values = dict(
        steps=4, batch_size=2, crop_size=32, base_channels=4, critic_base_channels=4,
        structural_levels=(1, 2), lr_g=1e-3, lr_c=1e-3, adversarial=0.01, structural=0.5, l1=1.0,
        val_every=2, val_samples=2, preview_every=2, checkpoint_every=3, log_every=1,
        device="cpu", output_dir=str(tmp_path / "run"), seed=7,
    )
    values.update(changes)
    return TrainConfig(**values)


# --- config -----------------------------------------------------------------------------------

def test_config_from_toml_with_tables_and_overrides(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[schedule]\nsteps = 10\nbatch_size = 4\n[loss]\nl1 = 2\nbetas = [0.0, 0.99]\n')
    config = TrainConfig.from_toml(path, overrides=["steps=30", "device=cpu", "output_dir=runs/x"])
    assert (config.steps, config.batch_size, config.l1, config.betas) == (30, 4, 2.0, (0.0, 0.99))
    assert config.device == "cpu" and config.output_dir == "runs/x"
    assert parse_overrides(["amp=false", "lr_g=1e-3"]) == {"amp": False, "lr_g": 1e-3}
    with pytest.raises(ConfigError, match="unknown setting.*stepz"):
        TrainConfig.from_toml(path, overrides=["stepz=3"])
    with pytest.raises(ConfigError, match="steps must be int, got 'many'"):
        TrainConfig.from_toml(path, overrides=["steps=many"])
    with pytest.raises(ConfigError, match="crop_size must be a multiple of 16"):
        TrainConfig.from_toml(path, overrides=["crop_size=40"])
    with pytest.raises(ConfigError, match=r"crop_size 32 is too small for structural_levels \[2, 3, 4\] \(needs 97\)"):
        TrainConfig.from_toml(path, overrides=["crop_size=32"])
    assert TrainConfig.from_toml(path, overrides=["structural_levels=2", "crop_size=32"]).structural_levels == (1, 2)
    with pytest.raises(ConfigError, match="is not key=value"):
        parse_overrides(["steps"])
    with pytest.raises(ConfigError, match="missing.toml: config file not found"):
        TrainConfig.from_toml(tmp_path / "missing.toml")


def test_shipped_default_config_is_valid():
    from importlib.resources import files

    path = files("seeinggan") / "configs" / "default.toml"
    config = TrainConfig.from_toml(str(path))
    assert config.perceptual == 0  # the default objective needs no download
    assert config.l1 > 0 and config.band > 0 and config.adversarial > 0  # fidelity terms + the paper's critic
    assert config.base_channels == 64 and config.crop_size == 256  # the paper's width and image size
    assert config.to_dict() == TrainConfig.from_dict(config.to_dict()).to_dict()


def test_the_shipped_models_recipes_and_their_priors():
    import json
    from importlib.resources import files

    from seeinggan.train.datasets import datasets_from_config

    stage2 = TrainConfig.from_toml(str(files("seeinggan") / "configs" / "cpu.toml"))
    stage1 = TrainConfig.from_toml(str(files("seeinggan") / "configs" / "cpu_stage1.toml"))
    assert (stage1.prior, stage2.prior) == ("fidelity_v1", "broad")
    # the shipped model's JSON records the stage-2 objective
    shipped = json.loads((files("seeinggan") / "weights" / "default.json").read_text())
    assert shipped["objective"]["weights"]["power"] == stage2.power > 0
    assert shipped["objective"]["weights"]["band"] == stage2.band
    # "broad" draws every suite's scenes from seeinggan.simulate.priors; "fidelity_v1" the first prior's
    small = {"simulate_pairs": 6, "val_pairs": 0, "num_workers": 0, "crop_size": 64}
    train, _ = datasets_from_config(TrainConfig.from_dict({**stage2.to_dict(), **small}))
    scenes = {pair.meta.get("scene") for pair in train.pairs}
    assert scenes and scenes <= {"galaxies", "bright_smooth", "cutout", "deep_field"}
    assert all(pair.truth is not None for pair in train.pairs)
    train1, _ = datasets_from_config(TrainConfig.from_dict({**stage1.to_dict(), **small}))
    assert {pair.meta.get("kind") for pair in train1.pairs} <= {"single", "field", "bright"}
    with pytest.raises(ConfigError, match="prior must be one of default, broad, fidelity_v1"):
        TrainConfig.from_dict({**stage2.to_dict(), "prior": "wide"}).validate()


# --- learning -----------------------------------------------------------------------------------

def test_a_few_steps_lower_the_loss_on_a_fixed_batch(tmp_path):
    trainer = Trainer(tiny_config(tmp_path, lr_decay="none"), train_pairs=BlobPairs())
    x, y = (torch.stack(t) for t in zip(*(BlobPairs()[i] for i in range(4)), strict=True))

    def objective_now() -> float:
        # l1 + 0.5 * (1 - CW-SSIM) of the generator on the batch (the critic's term moves with it)
        with torch.no_grad():
            total, _ = trainer.objective(trainer.generator(x), y, adversarial=False)
        return total.item()

    with torch.no_grad():
        input_objective = trainer.objective(x, y, adversarial=False)[0].item()
    before = objective_now()
    losses = [trainer.train_step(x, y) for _ in range(40)]
    after = objective_now()
    # The untrained residual generator returns its input, so training starts from the input's own
    # objective (measured 0.544 -> 0.39 on torch 2.13 CPU; the input's CW-SSIM is 0.063).
    assert before == pytest.approx(input_objective, rel=1e-6)
    assert after < 0.83 * before
    assert losses[-1]["g_total"] < losses[0]["g_total"] - 0.1
    assert {"critic", "wasserstein", "gp", "l1", "structural", "adversarial"} <= set(losses[0])


def test_checkpoint_and_resume_repeat_the_next_step_exactly(tmp_path):
    straight = Trainer(tiny_config(tmp_path / "a", steps=4), train_pairs=BlobPairs())
    straight.run()

    # the same run interrupted after 3 steps (a stop request writes the checkpoint)
    history = History()
    first = Trainer(tiny_config(tmp_path / "b", steps=4), train_pairs=BlobPairs(), callbacks=[history])
    assert first.run(should_stop=lambda: len(history.steps) >= 3).stopped
    checkpoint = tmp_path / "b" / "run" / "checkpoints" / "step_0000003.ckpt"
    assert checkpoint.is_file()
    # a fresh process's state: other seeds drawn meanwhile must not matter
    torch.manual_seed(999)
    np.random.seed(999)
    resumed = Trainer(tiny_config(tmp_path / "b", steps=4), train_pairs=BlobPairs())
    resumed.load_checkpoint(checkpoint)
    assert resumed.step == 3
    resumed.run()
    assert resumed.step == 4
    for name in ("generator", "critic"):
        a = getattr(straight, name).state_dict()
        b = getattr(resumed, name).state_dict()
        for key in a:
            assert torch.equal(a[key], b[key]), f"{name}.{key} differs after resume"


def test_stop_request_is_honoured_within_a_step_and_leaves_a_checkpoint(tmp_path):
    history = History()
    trainer = Trainer(tiny_config(tmp_path, steps=50), train_pairs=BlobPairs(), callbacks=[history])
    result = trainer.run(should_stop=lambda: len(history.steps) >= 2)
    assert result.stopped and result.step == 2 and history.steps == [1, 2]
    assert result.checkpoint.name == "step_0000002.ckpt"
    assert load_checkpoint(result.checkpoint)["step"] == 2
    assert history.checkpoints[-1].reason == "stop"


def test_callbacks_get_typed_updates(tmp_path):
    updates = []
    trainer = Trainer(
        tiny_config(tmp_path, steps=4), train_pairs=BlobPairs(), val_pairs=BlobPairs(3, seed=5),
        callbacks=[updates.append],
    )
    result = trainer.run()
    steps = [u for u in updates if isinstance(u, StepUpdate)]
    assert [u.step for u in steps] == [1, 2, 3, 4] and all(u.total == 4 for u in steps)
    assert all(math.isfinite(v) for u in steps for v in u.losses.values())
    validations = [u for u in updates if isinstance(u, ValidationUpdate)]
    assert [u.step for u in validations] == [2, 4]
    for v in validations:
        assert v.n == 2 and 0 < v.cw_ssim <= 1 and 0 < v.cw_ssim_input <= 1
    assert result.best_cw_ssim == max(v.cw_ssim for v in validations)
    previews = [u for u in updates if isinstance(u, PreviewUpdate)]
    assert len(previews) == 2
    assert previews[0].input.shape == previews[0].output.shape == previews[0].target.shape == (32, 32)
    assert isinstance(previews[0].output, np.ndarray)


def test_run_without_critic_trains_generator_only(tmp_path):
    trainer = Trainer(tiny_config(tmp_path, adversarial=0.0, steps=2), train_pairs=BlobPairs())
    assert trainer.critic is None
    history = History()
    trainer.callbacks.append(history)
    trainer.run()
    assert set(history.losses) == {"g_total", "l1", "structural"}


# --- model files and checkpoints ----------------------------------------------------------------

def test_saved_model_loads_with_identical_outputs_and_metadata(tmp_path):
    trainer = Trainer(tiny_config(tmp_path, steps=2), train_pairs=BlobPairs(), val_pairs=BlobPairs(2, seed=3))
    trainer.run()
    path = trainer.save_model(tmp_path / "mine.safetensors", name="mine", description="blobs")
    generator, meta = load_model(path)
    x = BlobPairs()[0][0][None].contiguous(memory_format=torch.channels_last)
    generator.to(memory_format=torch.channels_last)  # the trainer's layout: same kernels, same bits
    with torch.no_grad():
        assert torch.equal(generator(x), trainer.generator.eval()(x))
    assert meta["name"] == "mine" and meta["description"] == "blobs"
    assert meta["architecture"]["base_channels"] == 4
    weights = meta["objective"]["weights"]
    assert {k: weights[k] for k in ("l1", "structural", "perceptual", "adversarial")} == {
        "l1": 1.0, "structural": 0.5, "perceptual": 0.0, "adversarial": 0.01}
    assert all(weights[k] == 0.0 for k in ("band", "consistency", "lowband"))  # off unless asked
    assert meta["objective"]["adversarial"] == "wasserstein-gp"
    assert meta["training"]["steps"] == 2 and meta["training"]["data"]["dataset"] == "BlobPairs"
    assert meta["training"]["hardware"]["device"] == "cpu"
    assert 0 < meta["training"]["validation"]["cw_ssim"] <= 1


def test_fine_tuning_starts_from_a_model_file(tmp_path):
    trainer = Trainer(tiny_config(tmp_path, steps=3), train_pairs=BlobPairs())
    trainer.run()
    path = trainer.save_model(tmp_path / "base", name="base")
    tuned = Trainer(
        tiny_config(tmp_path / "ft", steps=1, base_channels=8), train_pairs=BlobPairs(), init_model=path
    )
    assert tuned.generator.config == trainer.generator.config  # the model's architecture wins
    for key, value in trainer.generator.state_dict().items():
        assert torch.equal(tuned.generator.state_dict()[key], value)
    assert tuned.model_metadata()["training"]["init_model"] == str(path)
    # the tuned model has seen what its start saw too: its trained ranges are the union
    wider = {"seeing_fwhm_arcsec": [0.1, 9.0], "input_pixel_scale_arcsec": [0.01, 5.0]}
    tuned.init_metadata["trained_ranges"] = wider
    ranges = tuned.model_metadata()["trained_ranges"]
    assert ranges["seeing_fwhm_arcsec"] == [0.1, 9.0] and ranges["input_pixel_scale_arcsec"] == [0.01, 5.0]


def test_checkpoints_refuse_foreign_files(tmp_path):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="bad.ckpt: not a readable seeinggan checkpoint"):
        load_checkpoint(bad)
    save_model(tmp_path / "m", Trainer(tiny_config(tmp_path), train_pairs=BlobPairs()).generator)
    with pytest.raises(CheckpointError, match="no step_N.ckpt checkpoint"):
        load_checkpoint(tmp_path)
    trainer = Trainer(tiny_config(tmp_path, steps=1), train_pairs=BlobPairs())
    trainer.run()
    other = Trainer(tiny_config(tmp_path / "o", base_channels=8), train_pairs=BlobPairs())
    with pytest.raises(CheckpointError, match="differs from this run"):
        other.load_checkpoint(tmp_path / "run")


def test_trains_on_simulated_pair_datasets_and_validates_in_flux_units(tmp_path):
    from seeinggan.data import PairDataset, simulated_pairs

    train = PairDataset(simulated_pairs(n=2, seed=0, space_shape=(128, 128)), crop_size=128, seed=0)
    val = PairDataset(simulated_pairs(n=2, seed=1, space_shape=(128, 128)), crop_size=128, augment=False, crop="center")
    history = History()
    trainer = Trainer(
        tiny_config(tmp_path, steps=2, crop_size=128, val_every=2), train_pairs=train, val_pairs=val,
        callbacks=[history],
    )
    trainer.run()
    (validation,) = history.validations
    assert validation.units == "flux"
    # the untrained residual generator returns its input: both score the same after 2 steps
    assert 0 < validation.cw_ssim_input < 1
    assert validation.cw_ssim == pytest.approx(validation.cw_ssim_input, abs=0.05)
    meta = trainer.model_metadata(name="sim")
    assert meta["intensity_transform"] == {"kind": "noise_scaled_asinh", "softening": 3.0}
    assert meta["pixel_scale_arcsec"] == 0.03 and meta["input_pixel_scale_arcsec"] == 0.202


# --- command line -------------------------------------------------------------------------------

def _train_cli(argv):
    import argparse

    from seeinggan.cli import train as train_cli

    parser = argparse.ArgumentParser(prog="seeinggan")
    train_cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["train", *argv])
    return args.run(args)


TINY_CLI = ["--set", "steps=2", "--set", "batch_size=1", "--set", "base_channels=4",
            "--set", "critic_base_channels=4", "--set", "val_pairs=1", "--set", "num_workers=0",
            "--set", "adversarial_after=0", "--set", "log_every=1", "--no-progress"]


def test_cli_trains_a_model_and_resumes(tmp_path, capsys):
    out = tmp_path / "run"
    assert _train_cli([*TINY_CLI, "--simulate", "2", "-o", str(out), "--name", "tiny"]) == 0
    printed = capsys.readouterr()
    assert printed.out.strip() == str(out / "tiny.safetensors")
    lines = printed.err.splitlines()
    assert any(line.startswith("step 1/2 ") for line in lines)
    assert any(line.startswith("step 2/2 ") for line in lines)
    assert any(line.startswith("step 2 validation: CW-SSIM") for line in lines)
    generator, meta = load_model(out / "tiny.safetensors")
    assert meta["training"]["steps"] == 2 and meta["architecture"]["base_channels"] == 4
    assert meta["training"]["data"]["dataset"] == "PairDataset"
    # more steps from the checkpoint: the step count goes on
    assert _train_cli([*TINY_CLI, "--set", "steps=3", "--simulate", "2", "-o", str(out), "--name", "tiny2",
                       "--resume", str(out)]) == 0
    assert load_model(out / "tiny2")[1]["training"]["steps"] == 3


def test_cli_fine_tune_trains_in_the_start_models_intensity_space(tmp_path, capsys):
    # A start model trained with softening 5; the fine-tune's config keeps the default (3): the
    # fine-tune must train and save in the start model's space, as the Fine-tune dock does.
    out = tmp_path / "run"
    assert _train_cli([*TINY_CLI, "--set", "softening=5.0", "--simulate", "2", "-o", str(out), "--name", "soft5"]) == 0
    assert load_model(out / "soft5")[1]["intensity_transform"]["softening"] == 5.0
    assert _train_cli([*TINY_CLI, "--simulate", "2", "-o", str(out), "--name", "tuned",
                       "--init-model", str(out / "soft5.safetensors")]) == 0
    meta = load_model(out / "tuned")[1]
    assert meta["intensity_transform"]["softening"] == 5.0
    assert meta["training"]["init_model"] == str(out / "soft5.safetensors")


def test_cli_errors_are_clear(tmp_path):
    from seeinggan.cli import CliError

    with pytest.raises(CliError, match="nope.toml: config file not found"):
        _train_cli(["--config", str(tmp_path / "nope.toml"), "-o", str(tmp_path)])
    with pytest.raises(CliError, match="unknown setting.*wings"):
        _train_cli(["--set", "wings=2", "-o", str(tmp_path)])
    with pytest.raises(CliError, match="missing: pairs folder not found"):
        _train_cli(["--pairs", str(tmp_path / "missing"), "-o", str(tmp_path)])
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(CliError, match="a model of that name exists"):
        _train_cli(["-o", str(tmp_path)])
