r"""What the support guard does: truth, ground, the network alone, the shipped output, the support map.

Rows are stress-suite pairs (`seeinggan.evaluate.simulate_suite`, deterministic): two smooth
disks filling their cutouts, where the network alone paints texture, and a held-out galaxy with
structure, where the guard keeps the detail. Each image is labelled with its restoration-band
error against the noiseless truth (`seeinggan.metrics.band_error`; lower is better). The ground
image is resampled onto the model grid (cubic, flux kept). One asinh stretch per row, from the
truth: black at its 1st percentile, white at its 99.8th. Only numpy + Pillow::

    .venv/bin/python scripts/figure_support_guard.py -o docs/support-guard.png
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROWS = (("cutouts", 295, "smooth disk, 90% of\npixels above 3 sigma"),
        ("cutouts", 77, "smooth disk, 90% of\npixels above 15 sigma"), ("heldout", 3, "held-out spiral"))
COLUMNS = ("truth", "ground", "network alone", "shipped (guarded)", "support map")
TILE, GAP, LABEL_H, HEADER_H, ROW_LABEL_W = 256, 6, 24, 30, 190


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def _panel(image: np.ndarray, low: float, high: float, soft: float) -> Image.Image:
    scaled = np.arcsinh((np.nan_to_num(image, nan=low) - low) / soft) / np.arcsinh((high - low) / soft)
    return Image.fromarray((255 * np.clip(scaled, 0, 1)[::-1]).astype(np.uint8))


def main(argv=None) -> int:
    from seeinggan.evaluate.suites import simulate_suite
    from seeinggan.geometry import zoom_to_scale
    from seeinggan.infer import Deblurrer
    from seeinggan.metrics.fidelity import band_error

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", type=Path, default=Path("docs/support-guard.png"))
    args = parser.parse_args(argv)
    raw_model, shipped = Deblurrer("default", support_guard=False), Deblurrer("default")
    width = ROW_LABEL_W + len(COLUMNS) * (TILE + GAP)
    height = HEADER_H + len(ROWS) * (TILE + LABEL_H + GAP)
    canvas = Image.new("RGB", (width, height), "white")
    draw, font = ImageDraw.Draw(canvas), _font(15)
    for c, title in enumerate(COLUMNS):
        draw.text((ROW_LABEL_W + c * (TILE + GAP) + 4, 8), title, fill="black", font=font)
    for r, (suite, index, label) in enumerate(ROWS):
        pair = simulate_suite(suite, n=index + 1)[index]
        fwhm = float(pair.params["seeing_fwhm"])
        options = dict(wcs=pair.ground_wcs, seeing=fwhm, sky=0.0, noise=float(pair.params["ground_sky_noise"]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            network = raw_model.deblur(pair.ground, **options).data
            result = shipped.deblur(pair.ground, uncertainty=False, consistency=True, **options)
        ground = zoom_to_scale(pair.ground.astype(np.float32), factor=float(pair.params["ground_pixel_scale"]) / 0.03)
        images = (pair.truth, ground, network, result.data)
        low, high = np.percentile(pair.truth, [1.0, 99.8])
        soft = max((high - low) / 30.0, 1e-12)
        y = HEADER_H + r * (TILE + LABEL_H + GAP)
        draw.text((6, y + TILE // 2 - 30), f"{suite} {index}\n{label}\nseeing {fwhm:.2f}\"", fill="black", font=font)
        for c, image in enumerate(images):
            x = ROW_LABEL_W + c * (TILE + GAP)
            canvas.paste(_panel(image, low, high, soft).resize((TILE, TILE)), (x, y))
            if c:
                error = band_error(image, pair.truth, pixel_scale=0.03, seeing_fwhm=fwhm)
                draw.text((x + 4, y + TILE + 4), f"band error {error:.3g}", fill="black", font=font)
        support = result.maps.support
        x = ROW_LABEL_W + 4 * (TILE + GAP)
        support_image = Image.fromarray((255 * np.nan_to_num(support)[::-1]).astype(np.uint8))
        canvas.paste(support_image.resize((TILE, TILE)), (x, y))
        draw.text((x + 4, y + TILE + 4), f"detail kept on {100 * np.nanmean(support):.0f}%", fill="black", font=font)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(args.output)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
