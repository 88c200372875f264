r"""A figure like the paper's Fig. 8: truth, space, ground, Richardson-Lucy and SeeingGAN, scored.

One row per pair of an evaluation folder (as written by ``seeinggan simulate --truth``), chosen to
span the morphological classes (the first pair of each class, in folder order, then more pairs
of other seeing until ``-k`` rows). Columns:

- truth: the noiseless space image (``truth/NAME.fits``; the column is left out without it);
- space: the space image, the reference every score is computed against;
- ground: the ground image resampled onto the space grid (`seeinggan.data.folder_pairs`);
- Richardson-Lucy: `seeinggan.evaluate.richardson_lucy_deconvolve` with the true PSF, at the
  iteration count given, or else the one ``seeinggan evaluate`` chose (its report.json);
- SeeingGAN: `seeinggan.Deblurrer.deblur_cutouts` with the model given (default: shipped).

Each tile is labelled with CW-SSIM / SSIM / PSNR against the space image
(`seeinggan.metrics.compare`, the evaluation's scores); each row with its class, seeing and name.
All tiles of a row share one asinh display stretch, taken from the space image: black at its
sky, white at its 99.8th percentile, the softening at 2 sky-noise units. Only numpy + Pillow::

    .venv/bin/python scripts/figure_examples.py PAIRS_DIR --report REPORT_DIR/report.json \
        --model FILE -o docs/examples.png
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]

TILE = 256
GAP = 6
LABEL_H = 26
HEADER_H = 34
ROW_LABEL_W = 150
FONT_SIZE = 17
BACKGROUND = (255, 255, 255)
INK = (20, 20, 20)


def choose_pairs(pairs, k: int) -> list:
    """Up to ``k`` pairs: the first of each class in folder order, then others, spread in seeing."""
    chosen, seen = [], set()
    for pair in pairs:
        cls = str(pair.meta.get("class", "unknown"))
        if cls not in seen:
            seen.add(cls)
            chosen.append(pair)
    taken = {p.name for p in chosen}
    rest = [p for p in pairs if p.name not in taken]
    rest.sort(key=lambda p: float(p.meta.get("seeing_fwhm") or 0.0))
    while len(chosen) < k and rest:
        # alternate the best and worst seeing left, so extra rows widen the seeing range shown
        chosen.append(rest.pop(0 if len(chosen) % 2 else -1))
    return chosen[:k]


def rl_iterations_from(args) -> int:
    if args.rl_iterations is not None:
        return int(args.rl_iterations)
    report = args.report or args.pairs_dir / "report" / "report.json"
    if not Path(report).is_file():
        sys.exit(f"{report}: no report.json; pass --rl-iterations N or --report FILE "
                 "(written by `seeinggan evaluate`)")
    settings = json.loads(Path(report).read_text()).get("settings", {})
    if "rl_iterations" not in settings:
        sys.exit(f"{report}: no settings.rl_iterations in it")
    return int(settings["rl_iterations"])


def stretch(space: np.ndarray, mask: np.ndarray):
    """The row's display mapping, from the space image: asinh, sky black, 99.8th percentile white."""
    from seeinggan.transforms import measure_sky_noise

    valid = space[mask & np.isfinite(space)]
    sky, noise = measure_sky_noise(valid)
    soft = 2.0 * noise
    top = max(float(np.percentile(valid - sky, 99.8)), 10 * soft)
    scale = np.arcsinh(top / soft)

    def to_gray(image: np.ndarray) -> np.ndarray:
        x = np.arcsinh((np.nan_to_num(image, nan=sky) - sky) / soft) / scale
        return (np.clip(x, 0.0, 1.0) * 255).astype(np.uint8)

    return to_gray


def load_font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: the bitmap font only
        return ImageFont.load_default()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pairs_dir", type=Path, help="evaluation folder (ground/, space/, truth/, catalogue.csv)")
    parser.add_argument("--model", default="default",
                        help="model file (default: the shipped model); 'none' omits the column")
    parser.add_argument("--rl-iterations", type=int, default=None, metavar="N",
                        help="Richardson-Lucy iterations (default: from --report)")
    parser.add_argument("--report", type=Path, default=None, metavar="FILE",
                        help="report.json of `seeinggan evaluate` (default: PAIRS_DIR/report/report.json)")
    parser.add_argument("-k", type=int, default=6, help="number of rows (default 6)")
    parser.add_argument("--names", nargs="+", default=None, help="pair names to show instead of choosing")
    parser.add_argument("--tile", type=int, default=TILE, help=f"tile side in display pixels (default {TILE})")
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "docs" / "examples.png")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)

    from seeinggan.data import folder_pairs
    from seeinggan.evaluate import ground_psf_on_space_grid, richardson_lucy_deconvolve, truth_images
    from seeinggan.metrics import compare

    iterations = rl_iterations_from(args)
    pairs = folder_pairs(args.pairs_dir)
    if args.names:
        by_name = {p.name: p for p in pairs}
        unknown = [n for n in args.names if n not in by_name]
        if unknown:
            sys.exit(f"{args.pairs_dir}: no pair named {', '.join(unknown)}")
        rows = [by_name[n] for n in args.names]
    else:
        rows = choose_pairs(pairs, args.k)
    truths = truth_images(args.pairs_dir, rows)

    columns = (["truth"] if truths is not None else []) + ["space", "ground", "richardson_lucy"]
    titles = {"truth": "Truth (noiseless)", "space": "Space (reference)", "ground": "Ground, resampled",
              "richardson_lucy": f"Richardson-Lucy ({iterations} it.)", "seeinggan": "SeeingGAN"}
    outputs = {}
    if str(args.model).lower() != "none":
        from seeinggan import Deblurrer

        deblurrer = Deblurrer(args.model, device=args.device)
        titles["seeinggan"] = f"SeeingGAN ({deblurrer.model_name})"
        columns.append("seeinggan")
        by_shape: dict = {}
        for pair in rows:
            by_shape.setdefault(pair.shape, []).append(pair)
        for group in by_shape.values():
            scale = float(group[0].meta.get("space_pixel_scale") or deblurrer.pixel_scale)
            result = deblurrer.deblur_cutouts(np.stack([p.ground for p in group]), pixel_scale=scale)
            outputs.update({p.name: image for p, image in zip(group, result.data, strict=True)})

    tile = int(args.tile)
    font = load_font(FONT_SIZE)
    small = load_font(FONT_SIZE - 2)
    width = ROW_LABEL_W + len(columns) * (tile + GAP)
    height = HEADER_H + len(rows) * (tile + LABEL_H + GAP)
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    for c, column in enumerate(columns):
        x = ROW_LABEL_W + c * (tile + GAP) + tile // 2
        draw.text((x, HEADER_H // 2), titles[column], fill=INK, font=font, anchor="mm")

    for r, pair in enumerate(rows):
        images = {"space": pair.space, "ground": pair.ground,
                  "richardson_lucy": richardson_lucy_deconvolve(pair.ground, ground_psf_on_space_grid(pair.meta),
                                                                iterations=iterations)}
        if truths is not None:
            images["truth"] = truths[pair.name]
        if outputs:
            images["seeinggan"] = outputs[pair.name]
        to_gray = stretch(pair.space, pair.mask)
        y = HEADER_H + r * (tile + LABEL_H + GAP)
        fwhm = pair.meta.get("seeing_fwhm")
        label = [str(pair.meta.get("class", "?")), f'seeing {float(fwhm):.2f}"' if fwhm else "seeing ?", pair.name]
        for i, line in enumerate(label):
            draw.text((8, y + tile // 2 + (i - 1) * (FONT_SIZE + 6)), line, fill=INK,
                      font=font if i < 2 else small, anchor="lm")
        for c, column in enumerate(columns):
            x = ROW_LABEL_W + c * (tile + GAP)
            gray = Image.fromarray(to_gray(np.where(pair.mask, images[column], np.nan))[::-1])  # north up
            if gray.size != (tile, tile):
                gray = gray.resize((tile, tile), Image.Resampling.LANCZOS)
            canvas.paste(gray.convert("RGB"), (x, y))
            if column == "space":
                text = "reference"
            else:
                s = compare(pair.space, images[column], mask=~pair.mask)
                text = f"CW-SSIM {s['cw_ssim']:.3f}  SSIM {s['ssim']:.3f}  {s['psnr']:.1f} dB"
            draw.text((x + tile // 2, y + tile + LABEL_H // 2), text, fill=INK, font=small, anchor="mm")

    args.output.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(args.output)
    print(f"wrote {args.output} ({width}x{height}; {len(rows)} pairs: "
          f"{', '.join(p.name + ' ' + str(p.meta.get('class')) for p in rows)}; RL {iterations} iterations)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
