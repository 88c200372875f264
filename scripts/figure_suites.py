"""A figure of the stress suites: the first two pairs of each, truth beside the ground image.

One row per suite of `seeinggan.evaluate.suites`; for pairs 0 and 1: the noiseless space image
(truth) and the noisy ground image at its own pixels (nearest-neighbour enlarged, so the pixel
scale shows), in surface brightness (counts per 0.03" pixel), both with one asinh stretch from
the truth: black at 0, white at its 99.5th percentile, softening at 2 space sky-noise units.
Labels: class or scene, seeing and PSF, ground pixel scale, the suite's stressed setting.
Only numpy + Pillow::

    .venv/bin/python scripts/figure_suites.py -o docs/suites.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from seeinggan.evaluate.suites import SUITES, simulate_suite

TILE = 170
GAP = 6
LABEL_H = 34
ROW_LABEL_W = 130
HEADER_H = 26
FONT_SIZE = 13


def load_font(size: int):
    for name in ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default()


def to_gray(image: np.ndarray, *, white: float, soft: float) -> np.ndarray:
    scaled = np.arcsinh(np.clip(image, 0.0, None) / soft) / np.arcsinh(white / soft)
    return (255 * np.clip(scaled, 0.0, 1.0)).astype(np.uint8)


def tile(gray: np.ndarray) -> Image.Image:
    return Image.fromarray(gray[::-1]).resize((TILE, TILE), Image.NEAREST)  # north up


def describe(pair) -> tuple[str, str]:
    p = pair.params
    psf = p["psf_model"][:4]
    if p.get("psf_ellipticity"):
        psf += f" e{p['psf_ellipticity']:.2f}"
    if p["psf_model"] == "moffat":
        psf += f" b{p['moffat_beta']:.1f}"
    first = f"{p['class']}  {p['seeing_fwhm']:.2f}\" {psf}"
    extra = []
    extra.append(f"{p['ground_pixel_scale']:.3f}\"/px")
    if p.get("peak_snr"):
        extra.append(f"peak S/N {p['peak_snr']:.0f}")
    if p.get("fill_snr"):
        extra.append(f"fill S/N {p['fill_snr']:.0f}")
    if p["class"] == "field":
        extra.append(f"{p['n_galaxies']} gal {p['n_stars']} st")
    if p.get("space_noise") == "drizzle":
        extra.append("drizzle")
    return first, "  ".join(extra)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=Path("docs/suites.png"))
    parser.add_argument("--per-suite", type=int, default=2)
    args = parser.parse_args(argv)
    font = load_font(FONT_SIZE)
    names = list(SUITES)
    columns = 2 * args.per_suite
    width = ROW_LABEL_W + columns * (TILE + GAP)
    height = HEADER_H + len(names) * (TILE + LABEL_H + GAP)
    canvas = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(canvas)
    for c in range(columns):
        draw.text((ROW_LABEL_W + c * (TILE + GAP) + 4, 6),
                  "truth (space, noiseless)" if c % 2 == 0 else "ground (own pixels)",
                  fill=0, font=font)
    for r, name in enumerate(names):
        top = HEADER_H + r * (TILE + LABEL_H + GAP)
        suite = SUITES[name]
        draw.text((6, top + TILE // 2 - 20), name, fill=0, font=font)
        draw.text((6, top + TILE // 2), f"n {suite.n}, seed {suite.seed}", fill=0, font=font)
        for k, pair in enumerate(simulate_suite(name, n=args.per_suite)):
            ratio = pair.params["ground_pixel_scale"] / pair.params["space_pixel_scale"]
            soft = 2.0 * pair.params["space_sky_noise"]
            white = max(float(np.percentile(pair.truth, 99.5)), 5 * soft)
            left = ROW_LABEL_W + 2 * k * (TILE + GAP)
            canvas.paste(tile(to_gray(pair.truth, white=white, soft=soft)), (left, top))
            ground = pair.ground / ratio**2  # counts per space pixel: one stretch for both
            canvas.paste(tile(to_gray(ground, white=white, soft=soft)), (left + TILE + GAP, top))
            first, second = describe(pair)
            draw.text((left + 2, top + TILE + 2), first, fill=0, font=font)
            draw.text((left + 2, top + TILE + 2 + FONT_SIZE + 2), second, fill=0, font=font)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    temporary = args.output.with_name(args.output.name + ".part.png")
    canvas.save(temporary)
    temporary.replace(args.output)
    print(f"wrote {args.output} ({width}x{height})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
