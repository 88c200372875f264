"""``seeinggan evaluate [PAIRS_DIR] [--suite NAME]... [--model NAME_OR_FILE]...``.

Fidelity measures and the paper's Tables 1 and 2 for ground, Richardson-Lucy and each model, on a
pairs folder and/or simulated stress suites (markdown + JSON).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from seeinggan.cli import CliError


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``evaluate`` subcommand to ``subparsers``."""
    parser = subparsers.add_parser(
        "evaluate",
        help="score ground, Richardson-Lucy and models on a pairs folder or stress suites",
        description=(
            "Score the ground image resampled onto the space grid, Richardson-Lucy deconvolution "
            "with the true PSF and each --model on a pairs folder (as written by `seeinggan "
            "simulate`) and/or simulated stress suites (--suite). The report leads with the "
            "fidelity measures (band error in the band the seeing removed, band power ratio, "
            "Fourier-ring resolution, texture rms and power, invented sources, flux errors; "
            "against the noiseless truth when there is one, else the space image), then the "
            "paper's Tables 1 and 2 (CW-SSIM, SSIM, PSNR), by morphological class and seeing bin. "
            "Writes REPORT_DIR/report.md and REPORT_DIR/report.json (one section per suite)."
        ),
    )
    parser.add_argument("pairs_dir", type=Path, nargs="?", default=None, metavar="PAIRS_DIR",
                        help="folder with ground/, space/, catalogue.csv (optional with --suite)")
    parser.add_argument("--model", action="append", default=None, metavar="NAME_OR_FILE",
                        help="a model to score: 'default', a saved model's name or a model file; repeat "
                             "for several models side by side (default: default); 'none': baselines only")
    parser.add_argument("--network-alone", action="store_true",
                        help="also score each model without the support guard (column 'network_alone', or "
                             "'LABEL_network_alone' with several models): what the guard changes")
    parser.add_argument("--suite", action="append", default=None, metavar="NAME",
                        help="also simulate and score this stress suite (repeatable; see --list-suites)")
    parser.add_argument("--suite-pairs", type=int, default=None, metavar="N",
                        help="score each suite's first N pairs instead of all (quick runs)")
    parser.add_argument("--list-suites", action="store_true", help="print the stress suites' names and exit")
    parser.add_argument("--seeing", type=float, default=None, metavar="ARCSEC",
                        help="seeing FWHM for pairs whose catalogue and ground header give none")
    parser.add_argument("-o", "--output-dir", type=Path, default=None, metavar="REPORT_DIR",
                        help="where report.md and report.json go (default: PAIRS_DIR/report; "
                             "required with --suite alone)")
    parser.add_argument("--rl-iterations", default="auto", metavar="auto|N",
                        help="Richardson-Lucy iterations, or 'auto' (best on a simulated validation set)")
    parser.add_argument("--n-validation", type=int, default=20, metavar="N",
                        help="validation pairs for --rl-iterations auto (default 20)")
    parser.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, mps")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="processes scoring pairs in parallel (default 1; 2 on a 2-core machine "
                             "halves a suite's time)")
    parser.set_defaults(run=run)
    return parser


def _with_network_alone(models: dict[str, Any], *, device: str) -> dict[str, Any]:
    """Each model as shipped (with the support guard) followed by its network alone."""
    from seeinggan.infer import Deblurrer

    if not models:
        raise CliError("--network-alone needs a model (not --model none)")
    paired: dict[str, Any] = {}
    for label, model in models.items():
        paired[label] = Deblurrer(model, device=device)
        alone = "network_alone" if len(models) == 1 else f"{label}_network_alone"
        paired[alone] = Deblurrer(model, device=device, support_guard=False)
    return paired


def _models(values: list[str] | None) -> dict[str, str | Path]:
    """``{column name: model}`` for the ``--model`` values.

    Names of shipped or saved models (`seeinggan.models.io.list_models`) or files.
    """
    from seeinggan.models.io import list_models

    values = values or ["default"]
    if any(v.lower() == "none" for v in values):
        if len(values) > 1:
            raise CliError("--model none scores the baselines only; do not combine it with other --model")
        return {}
    from seeinggan.models.io import ModelFileError, resolve_model

    known = {m.name: m for m in list_models()}
    models: dict[str, str | Path] = {}
    for value in values:
        try:
            model: str | Path = resolve_model(value)
        except ModelFileError as error:
            raise CliError(str(error)) from None
        label = value if value in known else Path(value).name.split(".")[0]
        while label in models or label in ("ground", "richardson_lucy", "richardson_lucy_sharpest"):
            label += "'"
        models[label] = model
    return models


def run(args) -> int:
    """Run ``seeinggan evaluate``; the exit status."""
    from tqdm import tqdm

    from seeinggan.evaluate import available_suites, evaluate_pairs, evaluate_suite, write_reports

    if args.list_suites:
        from seeinggan.evaluate.suites import suite_table

        for row in suite_table():
            print(f"{row['name']:<14} {row['n']:>4} pairs  seed {row['seed']:<6} {row['description']}")
        return 0
    if args.pairs_dir is None and not args.suite:
        raise CliError("give a PAIRS_DIR, one or more --suite NAME, or both")
    if args.pairs_dir is not None and not args.pairs_dir.is_dir():
        raise CliError(f"{args.pairs_dir}: pairs folder not found")
    if args.suite:
        names = available_suites()
        for name in args.suite:
            if name not in names:
                raise CliError(f"unknown suite {name!r}; the suites are: {', '.join(names)}")
    if args.suite_pairs is not None and args.suite_pairs < 1:
        raise CliError(f"--suite-pairs must be a positive integer, got {args.suite_pairs}")
    if args.seeing is not None and not args.seeing > 0:
        raise CliError(f"--seeing must be a positive number of arcsec, got {args.seeing}")
    if args.rl_iterations != "auto":
        try:
            iterations: int | str = int(args.rl_iterations)
        except ValueError:
            raise CliError(f"--rl-iterations must be 'auto' or a positive integer, "
                           f"got {args.rl_iterations!r}") from None
        if int(iterations) < 1:
            raise CliError(f"--rl-iterations must be 'auto' or a positive integer, got {iterations}")
    else:
        iterations = "auto"
    if args.output_dir is None and args.pairs_dir is None:
        raise CliError("with --suite alone, say where the report goes: -o REPORT_DIR")
    out_dir = args.output_dir or args.pairs_dir / "report"
    for name in ("report.md", "report.json"):
        if (out_dir / name).exists():
            raise CliError(f"{out_dir / name}: exists; remove it or choose another -o REPORT_DIR")
    models: dict[str, Any] = dict(_models(args.model))
    if args.network_alone:
        models = _with_network_alone(models, device=args.device)
    if args.workers < 1:
        raise CliError(f"--workers must be a positive integer, got {args.workers}")
    options = {"models": models, "seeing": args.seeing, "rl_iterations": iterations,
               "n_validation": args.n_validation, "device": args.device, "workers": args.workers}
    command = "seeinggan " + shlex.join(sys.argv[1:]) if sys.argv and "evaluate" in sys.argv else None
    reports = {}
    sources = ([("folder", args.pairs_dir)] if args.pairs_dir is not None else []) + [
        ("suite", name) for name in (args.suite or [])]
    for kind, source in sources:
        label = str(source) if kind == "folder" else f"suite {source}"
        with tqdm(desc=label, unit="pair") as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.n = done
                bar.refresh()

            if kind == "folder":
                reports[str(source)] = evaluate_pairs(source, progress=progress, **options)
            else:
                reports[source] = evaluate_suite(source, n=args.suite_pairs, progress=progress, **options)
        if command:
            reports[str(source)].settings["command"] = command
    md, js = write_reports(reports, out_dir)
    print(md.read_text())
    print(f"wrote {md} and {js}")
    return 0
