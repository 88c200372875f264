"""Cosmic rays in a single exposure: found, cleaned, and no longer restored as sources."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from seeinggan.errors import InputError
from seeinggan.infer import Deblurrer
from seeinggan.infer.cosmic_rays import find_cosmic_rays
from seeinggan.simulate import simulate_pair

HITS = [(14, 20, 150.0), (40, 60, 60.0), (70, 25, 200.0), (90, 95, 40.0), (100, 50, 100.0)]


@pytest.fixture(scope="module")
def frame():
    """A simulated ground exposure (0.202"/px, 0.8" seeing) and the same with five cosmic-ray hits."""
    pair = simulate_pair(seed=31, space_shape=(768, 768), psf="moffat", seeing_fwhm=0.8, morphology="spiral")
    header = pair.ground_header
    clean = pair.ground.astype(np.float32)
    hit = clean.copy()
    noise = float(header["SKYNOISE"])
    for row, col, snr in HITS:
        hit[row, col] += snr * noise
    return {"clean": clean, "hit": hit, "header": header, "wcs": pair.ground_wcs, "noise": noise,
            "gain": float(header["GAIN"])}


def test_hits_are_found_and_the_galaxy_is_left_alone(frame):
    found = find_cosmic_rays(frame["hit"], gain=frame["gain"], sky=0.0, noise=frame["noise"])
    assert all(found.mask[row, col] for row, col, _ in HITS)
    assert found.n_pixels <= 3 * len(HITS)
    # Cleaned hits are back at the level of their neighbourhood, within a few sigma.
    for row, col, _ in HITS:
        assert abs(found.cleaned[row, col] - frame["clean"][row, col]) < 5 * frame["noise"]
    untouched = ~found.mask
    np.testing.assert_array_equal(found.cleaned[untouched], frame["hit"][untouched])
    # The frame without hits (a bright spiral at 0.8" seeing) loses no pixel.
    assert find_cosmic_rays(frame["clean"], gain=frame["gain"], sky=0.0, noise=frame["noise"]).n_pixels == 0


def test_nan_pixels_stay_nan_and_are_not_flagged(frame):
    data = frame["hit"].copy()
    data[:5, :] = np.nan
    found = find_cosmic_rays(data, gain=frame["gain"])  # sky and noise measured on the frame
    assert np.isnan(found.cleaned[:5]).all() and not found.mask[:5].any()
    assert all(found.mask[row, col] for row, col, _ in HITS)


def test_gain_is_required_with_a_clear_message(frame):
    with pytest.raises(InputError, match="needs the detector gain"):
        find_cosmic_rays(frame["hit"], gain=None)


def test_deblurring_a_cleaned_frame_restores_no_source_at_the_hits(frame):
    deblurrer = Deblurrer("default")
    options = {"wcs": frame["wcs"], "seeing": 0.8, "sky": 0.0, "noise": frame["noise"]}
    clean = deblurrer.deblur(frame["clean"], **options)
    raw = deblurrer.deblur(frame["hit"], **options)
    cleaned = deblurrer.deblur(frame["hit"], clean_cosmic_rays=True, gain=frame["gain"], **options)
    assert cleaned.metadata["cosmic_rays"] >= len(HITS)
    assert "cleaned of cosmic rays" in cleaned.metadata["history"]
    factor = 0.202 / 0.03
    for row, col, _ in HITS:
        r, c = int((row + 0.5) * factor), int((col + 0.5) * factor)
        window = (slice(r - 8, r + 9), slice(c - 8, c + 9))
        excess_raw = raw.data[window].sum() - clean.data[window].sum()
        excess_cleaned = cleaned.data[window].sum() - clean.data[window].sum()
        # The hit is restored as a bright compact source without cleaning, not with it.
        assert excess_raw > 10 * abs(excess_cleaned)


def test_cli_cleans_and_says_so(tmp_path, frame, capsys):
    from seeinggan.cli import main

    header = frame["header"].copy()
    header.update(frame["wcs"].to_header())
    fits.PrimaryHDU(frame["hit"], header).writeto(tmp_path / "exposure.fits")
    assert main(["deblur", str(tmp_path / "exposure.fits"), "-o", str(tmp_path / "out"), "--clean-cosmic-rays"]) == 0
    history = " ".join(str(card) for card in fits.getheader(tmp_path / "out" / "exposure_deblurred.fits")["HISTORY"])
    assert "cleaned of cosmic rays" in history
    del header["GAIN"]
    fits.PrimaryHDU(frame["hit"], header).writeto(tmp_path / "nogain.fits")
    # Without a gain: one line naming the file, before any work, and nothing written.
    assert main(["deblur", str(tmp_path / "nogain.fits"), "-o", str(tmp_path / "out2"), "--clean-cosmic-rays"]) == 2
    assert "nogain.fits[0]: no GAIN in the header" in capsys.readouterr().err
    assert not (tmp_path / "out2" / "nogain_deblurred.fits").exists()
