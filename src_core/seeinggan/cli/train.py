"""``seeinggan train``: train (or fine-tune, or resume) a SeeingGAN generator.

    seeinggan train [--config FILE] [--set key=value ...] [--pairs DIR | --simulate N]
                    [--resume CKPT] [--init-model FILE] -o OUTDIR [--name NAME]

Without ``--config`` the shipped ``seeinggan/configs/default.toml`` is used (the config of the
default model). Writes ``OUTDIR/config.json``, ``OUTDIR/checkpoints/step_N.ckpt`` and, at the
end (or on Ctrl-C, after a clean stop), the model ``OUTDIR/NAME.safetensors`` + ``NAME.json``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from importlib.resources import files
from pathlib import Path

from seeinggan.cli import CliError


def default_config_path() -> Path:
    """The shipped training config (the one that trained the default model)."""
    return Path(str(files("seeinggan") / "configs" / "default.toml"))


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``train`` subcommand to ``subparsers``."""
    parser = subparsers.add_parser(
        "train",
        help="train a SeeingGAN model on simulated or folder pairs",
        description=(
            "Train a SeeingGAN generator (conditional WGAN-GP) from a TOML config. Data: a folder "
            "of ground/ and space/ FITS pairs (--pairs), or the simulator (--simulate, the default)."
        ),
    )
    parser.add_argument("--config", type=Path, default=None, metavar="FILE",
                        help="TOML training config (default: the shipped default.toml)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key (TOML value), e.g. --set steps=500; repeatable")
    data = parser.add_mutually_exclusive_group()
    data.add_argument("--pairs", type=Path, default=None, metavar="DIR",
                      help="folder with ground/ and space/ FITS pairs")
    data.add_argument("--simulate", type=int, default=None, metavar="N",
                      help="N simulated training pairs (0: a fresh one per sample; default: the config's)")
    parser.add_argument("--resume", type=Path, default=None, metavar="CKPT",
                        help="continue from a checkpoint file or a run folder (its latest checkpoint)")
    parser.add_argument("--init-model", "--init-from", type=str, default=None, metavar="NAME_OR_FILE",
                        help="fine-tune: start from this model (a shipped model's name such as 'default', "
                             "a saved model's name, or a model file)")
    parser.add_argument("-o", "--output-dir", type=Path, required=True, metavar="OUTDIR",
                        help="run folder: checkpoints, config.json and the model")
    parser.add_argument("--name", default="model", help="model file name in OUTDIR (default: model)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a model of the same name in OUTDIR")
    parser.add_argument("--description", default="", help="description stored in the model's metadata")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (log lines only)")
    parser.set_defaults(run=run)
    return parser


def run(args) -> int:
    """Run ``seeinggan train``; the exit status."""
    from seeinggan.models.io import ModelFileError
    from seeinggan.train import CheckpointError, ConfigError, LogLines, TrainConfig
    from seeinggan.train.callbacks import StepUpdate
    from seeinggan.train.datasets import datasets_from_config
    from seeinggan.train.finetune import finetune_trainer, intensity_template

    config_path = args.config or default_config_path()
    overrides = [*args.overrides, f"output_dir={_toml_string(str(args.output_dir))}"]
    try:
        config = TrainConfig.from_toml(config_path, overrides=overrides)
    except ConfigError as error:
        raise CliError(str(error)) from None
    if args.init_model is not None:  # a shipped model's name ("default"), a saved model's name or a file
        from seeinggan.models.io import ModelFileError as _ModelFileError
        from seeinggan.models.io import resolve_model

        try:
            args.init_model = resolve_model(str(args.init_model))
        except _ModelFileError as error:
            raise CliError(str(error)) from None
    for path, what in ((args.pairs, "pairs folder"), (args.resume, "checkpoint"), (args.init_model, "model")):
        if path is not None and not path.exists():
            raise CliError(f"{path}: {what} not found")
    from seeinggan.io.atomic import check_output_folder
    from seeinggan.models.io import user_models_dir
    from seeinggan.names import check_inside, check_name

    in_user_models = args.output_dir.resolve() == user_models_dir().resolve()
    name = check_name(args.name, kind="model" if in_user_models else "run", what="--name")
    model_path = check_inside(args.output_dir / f"{name}.safetensors", args.output_dir, what="--name")
    overwrite = args.overwrite or args.resume is not None
    if (model_path.exists() or model_path.with_suffix(".json").exists()) and not overwrite:
        raise CliError(f"{model_path}: a model of that name exists; choose another --name or -o OUTDIR, "
                       "or pass --overwrite")
    check_output_folder(args.output_dir, needed_bytes=64 * 1024**2, what="checkpoints and the model")

    print(f"seeinggan train: config {config_path}; output {args.output_dir}", file=sys.stderr)
    # A fine-tune (--init-model) trains in its start model's intensity space, as the Fine-tune dock does.
    template = intensity_template(args.init_model) if args.init_model is not None else None
    train_set, val_set = datasets_from_config(config, pairs_dir=args.pairs, simulate=args.simulate,
                                              transform=template)
    print(
        f"seeinggan train: {len(train_set)} training samples per epoch, "
        f"{0 if val_set is None else len(val_set)} validation samples",
        file=sys.stderr,
    )

    bar = None
    if not args.no_progress and os.environ.get("RANK", "0") == "0":  # torchrun: rank 0 shows it
        from tqdm import tqdm

        bar = tqdm(total=config.steps, unit="step", dynamic_ncols=True, file=sys.stderr)

    class _Stream:  # log lines through tqdm so they do not break the bar
        def write(self, text: str) -> None:
            if not text.strip():
                return
            if bar is not None:
                bar.write(text.rstrip("\n"), file=sys.stderr)
            else:
                sys.stderr.write(text.rstrip("\n") + "\n")

        def flush(self) -> None:
            pass

    def follow(update) -> None:
        if bar is not None and isinstance(update, StepUpdate):
            bar.n = update.step
            bar.set_postfix({k: f"{v:.3g}" for k, v in update.losses.items() if k in ("g_total", "l1", "critic")},
                            refresh=False)
            bar.refresh()

    try:
        # The core's one entry for a run from a start model and/or a checkpoint (the dock's too).
        trainer = finetune_trainer(
            config, train_set=train_set, val_set=val_set,
            callbacks=[LogLines(every=config.log_every or 50, stream=_Stream()), follow],  # type: ignore[arg-type]
            init_model=args.init_model, resume_from=args.resume,
        )
        if args.resume is not None and bar is not None:
            bar.n = trainer.step
            bar.refresh()
    except (ModelFileError, CheckpointError, ValueError) as error:
        if bar is not None:
            bar.close()
        raise CliError(str(error)) from None

    # Ctrl-C once: stop cleanly after the current step (checkpoint + model); twice: abort.
    stop = {"asked": False}
    previous = signal.getsignal(signal.SIGINT)

    def on_interrupt(signum, frame):
        if stop["asked"]:
            signal.signal(signal.SIGINT, previous)
            raise KeyboardInterrupt
        stop["asked"] = True
        print("\nseeinggan train: stopping after this step (Ctrl-C again to abort)", file=sys.stderr)

    signal.signal(signal.SIGINT, on_interrupt)
    try:
        result = trainer.run(should_stop=lambda: stop["asked"])
    finally:
        signal.signal(signal.SIGINT, previous)
        if bar is not None:
            bar.close()
    if not trainer.dist.is_main:  # torchrun: rank 0 writes the model and reports
        trainer.dist.close()
        return 0
    path = trainer.save_model(model_path, name=name, description=args.description, overwrite=overwrite)
    trainer.dist.close()
    state = "stopped" if result.stopped else "finished"
    best = ("" if result.best_cw_ssim is None
            else f"; best validation CW-SSIM {result.best_cw_ssim:.4f} at step {result.best_step}")
    print(f"seeinggan train: {state} at step {result.step} in {result.elapsed:.0f} s{best}", file=sys.stderr)
    print(f"seeinggan train: checkpoint {result.checkpoint}", file=sys.stderr)
    print(path)
    return 0


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
