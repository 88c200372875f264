"""``seeinggan evaluate PAIRS_DIR``: the paper's Tables 1 and 2 on a pairs folder (markdown + JSON)."""

from __future__ import annotations

import argparse
from pathlib import Path

from seeinggan.cli import CliError


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "evaluate",
        help="score ground, Richardson-Lucy and SeeingGAN on a pairs folder",
        description=(
            "Score the ground image resampled onto the space grid, Richardson-Lucy deconvolution "
            "with the true PSF and SeeingGAN against the space images of a pairs folder (as written "
            "by `seeinggan simulate`): the paper's Tables 1 and 2, by morphological class and "
            "seeing bin, flux conservation and invented sources. Writes REPORT_DIR/report.md and "
            "REPORT_DIR/report.json."
        ),
    )
    parser.add_argument("pairs_dir", type=Path, metavar="PAIRS_DIR", help="folder with ground/, space/, catalogue.csv")
    parser.add_argument("--model", default="default", metavar="FILE",
                        help="model file (default: the shipped model); 'none' scores the baselines only")
    parser.add_argument("-o", "--output-dir", type=Path, default=None, metavar="REPORT_DIR",
                        help="where report.md and report.json go (default: PAIRS_DIR/report)")
    parser.add_argument("--rl-iterations", default="auto", metavar="auto|N",
                        help="Richardson-Lucy iterations, or 'auto' (best on a simulated validation set)")
    parser.add_argument("--n-validation", type=int, default=20, metavar="N",
                        help="validation pairs for --rl-iterations auto (default 20)")
    parser.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, mps")
    parser.set_defaults(run=run)
    return parser


def run(args) -> int:
    from tqdm import tqdm

    from seeinggan.evaluate import evaluate_pairs

    if not args.pairs_dir.is_dir():
        raise CliError(f"{args.pairs_dir}: pairs folder not found")
    if args.rl_iterations != "auto":
        try:
            iterations: int | str = int(args.rl_iterations)
        except ValueError:
            raise CliError(f"--rl-iterations must be 'auto' or a positive integer, got {args.rl_iterations!r}") from None
        if iterations < 1:
            raise CliError(f"--rl-iterations must be 'auto' or a positive integer, got {iterations}")
    else:
        iterations = "auto"
    out_dir = args.output_dir or args.pairs_dir / "report"
    for name in ("report.md", "report.json"):
        if (out_dir / name).exists():
            raise CliError(f"{out_dir / name}: exists; remove it or choose another -o REPORT_DIR")
    model = None if str(args.model).lower() == "none" else args.model
    if model not in (None, "default") and not Path(model).exists():
        raise CliError(f"{model}: model file not found")
    with tqdm(desc="evaluate", unit="pair") as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        report = evaluate_pairs(args.pairs_dir, model=model, rl_iterations=iterations,
                                n_validation=args.n_validation, device=args.device, progress=progress)
    md, js = report.write(out_dir)
    print(report.to_markdown())
    print(f"wrote {md} and {js}")
    return 0
