"""No seams with the default tile overlap (issue 14): tiled output equals untiled output to 1e-4,
and the power spectrum shows nothing at the tile stride, on blank sky and on a smooth galaxy."""

import numpy as np
import pytest
import torch
from seeinggan.infer import Deblurrer
from seeinggan.metrics import periodic_peak
from seeinggan.models import UNetGenerator

SIZE = 448
TILE = 160


def _network():
    """A small U-Net whose every layer does something (the output layer of a new network starts
    at zero, which would hide seams): random weights, fixed seed."""
    torch.manual_seed(0)
    generator = UNetGenerator(base_channels=4, n_down=2, n_res=1)
    with torch.no_grad():
        for parameter in generator.parameters():
            if parameter.ndim == 4 and float(parameter.abs().max()) == 0:
                parameter.normal_(0.0, 0.05)
    return generator, {"name": "random-unet"}


def _images():
    rng = np.random.default_rng(0)
    sky = rng.normal(0.0, 1.0, (SIZE, SIZE)).astype(np.float32)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    galaxy = sky + (50.0 * np.exp(-np.hypot(yy - SIZE / 2, xx - SIZE / 2.2) / 40.0)).astype(
        np.float32)
    return {"blank sky": sky, "smooth galaxy": galaxy}


def _stride_line(image: np.ndarray, stride: int) -> float:
    """Power at the tile stride's first harmonics over the median of the nearby frequencies
    (1-D spectra along rows and columns, Hann window): ~1 without a line at the stride."""
    image = image - image.mean()
    window = np.hanning(image.shape[0])[:, None] * np.hanning(image.shape[1])[None, :]
    power = np.abs(np.fft.rfft2(image * window)) ** 2
    n = image.shape[0]
    ratios = []
    for profile in (power[: n // 2, 1:].mean(axis=1), power[1 : n // 2].mean(axis=0)):
        for harmonic in (1, 2, 3):
            k = int(round(harmonic * n / stride))
            if k + 9 >= len(profile):
                break
            nearby = np.r_[profile[k - 8 : k - 1], profile[k + 2 : k + 9]]
            ratios.append(float(profile[k - 1 : k + 2].max() / np.median(nearby)))
    return max(ratios)


def test_default_overlap_comes_from_the_receptive_field():
    network = _network()
    deblurrer = Deblurrer(network, tile=TILE)
    assert deblurrer.overlap == min(4 * deblurrer.receptive_field_radius, TILE // 2) > 32


@pytest.mark.parametrize("name", ["blank sky", "smooth galaxy"])
def test_tiled_equals_untiled_and_no_line_at_the_stride(name):
    network = _network()
    image = _images()[name]
    tiled = Deblurrer(network, tile=TILE)  # the default overlap
    stride = tiled.tile - tiled.overlap
    # One tile over the whole image, with the same mirror padding at the borders.
    untiled = Deblurrer(network, tile=SIZE + 2 * tiled.overlap + 32, overlap=tiled.overlap)
    out = tiled.deblur(image, pixel_scale=0.03).data
    reference = untiled.deblur(image, pixel_scale=0.03).data
    assert out.shape == reference.shape == image.shape
    assert float(np.max(np.abs(out - reference))) < 1e-4
    # The power spectrum: no more power at the stride's harmonics than the untiled output has.
    assert _stride_line(out, stride) == pytest.approx(_stride_line(reference, stride), rel=1e-3)
    peak, peak_ref = periodic_peak(out), periodic_peak(reference)
    assert peak.strength == pytest.approx(peak_ref.strength, rel=1e-3)
    assert all(abs(peak.period * m / stride - 1) > 0.05 for m in (1, 2, 3, 4))

    # Control: without overlap the tiles disagree at the seams (so the check above can fail).
    seamed = Deblurrer(network, tile=TILE, overlap=0).deblur(image, pixel_scale=0.03).data
    assert float(np.max(np.abs(seamed - reference))) > 0.1
