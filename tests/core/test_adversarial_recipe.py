"""The adversarial recipe (issue 11): the warm-up ramp of the adversarial weight, and
``seeinggan train --init-model default`` fine-tuning the shipped fidelity model with the critic."""

from pathlib import Path

import pytest
import torch
from seeinggan.cli import main
from seeinggan.losses import GeneratorObjective
from seeinggan.models.io import PURPOSES, load_model, resolve_model
from seeinggan.train import TrainConfig, Trainer

CONFIGS = Path(__file__).resolve().parents[2] / "src_core" / "seeinggan" / "configs"


def test_adversarial_scale_multiplies_only_the_adversarial_term():
    objective = GeneratorObjective({"l1": 1.0, "adversarial": 0.5})
    output, target = torch.zeros(2, 1, 8, 8), torch.ones(2, 1, 8, 8)
    scores = torch.tensor([-4.0, -2.0])  # -D(G(x)) = 3
    full, terms = objective(output, target, fake_scores=scores)
    quarter, _ = objective(output, target, fake_scores=scores, adversarial_scale=0.25)
    assert terms["l1"].item() == pytest.approx(1.0) and terms["adversarial"].item() == pytest.approx(3.0)
    assert full.item() == pytest.approx(1.0 + 0.5 * 3.0)
    assert quarter.item() == pytest.approx(1.0 + 0.25 * 0.5 * 3.0)


def test_ramp_rises_linearly_after_the_start(tmp_path):
    class Pairs(torch.utils.data.Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, index):
            return torch.zeros(1, 32, 32), torch.zeros(1, 32, 32)

    config = TrainConfig(steps=1, batch_size=1, crop_size=32, base_channels=4, n_down=2, n_res=1,
                         critic_base_channels=4, l1=1.0, structural=0.0, adversarial=0.01,
                         adversarial_after=10, adversarial_ramp=100, device="cpu",
                         output_dir=str(tmp_path))
    trainer = Trainer(config, train_pairs=Pairs())
    assert [trainer.adversarial_scale(s) for s in (0, 9, 10, 59, 109, 5000)] == pytest.approx(
        [0.0, 0.0, 0.01, 0.5, 1.0, 1.0])
    config.adversarial_ramp = 0
    assert trainer.adversarial_scale(10) == 1.0 and trainer.adversarial_scale(9) == 0.0


def test_adversarial_config_fine_tunes_the_shipped_default_by_name(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--config", str(CONFIGS / "adversarial.toml"), "--init-model", "default",
                 "-o", str(out), "--name", "adv", "--no-progress",
                 "--set", "steps=2", "--set", "batch_size=2", "--set", "crop_size=64",
                 "--set", "simulate_pairs=2", "--set", "val_pairs=0", "--set", "log_every=1"])
    assert code == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    assert "critic=" in err and "adversarial=" in err  # the critic trained from the first step
    _, meta = load_model(out / "adv")
    _, default = load_model(resolve_model("default"))
    assert meta["architecture"] == default["architecture"]  # the fidelity generator, fine-tuned
    assert meta["training"]["init_model"].endswith("default.safetensors")
    assert meta["objective"]["adversarial"] == "wasserstein-gp"
    assert meta["objective"]["adversarial_ramp"] == 500 and meta["objective"]["lr_c"] > meta["objective"]["lr_g"]
    assert meta["objective"]["weights"]["band"] == 1.0 and meta["objective"]["weights"]["l1"] == 1.0
    assert meta["purpose"] == PURPOSES["adversarial"]
