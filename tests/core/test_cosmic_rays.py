"""Cosmic rays in a single exposure: found, cleaned, and no longer restored as sources."""

from __future__ import annotations

import re

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


# Catalogue runs: the frame is cleaned whole, once, before the stamps are cut.
NEAR_SOURCE = [(52, 62, 150.0), (63, 51, 100.0)]  # (row, col, S/N) inside the galaxy's stamp
ELSEWHERE = [(100, 15, 120.0)]  # in the frame, in no stamp
BLANK = (25, 90)  # (row, col) of a second catalogue position: a stamp with no hit


@pytest.fixture(scope="module")
def catalogue_frame(frame, tmp_path_factory):
    """``frame``'s exposure with hits near its galaxy (a FITS file with GAIN and WCS) and a
    catalogue of two positions: the galaxy and a blank patch of sky 7" away."""
    folder = tmp_path_factory.mktemp("catalogue")
    data = frame["clean"].copy()
    for row, col, snr in NEAR_SOURCE + ELSEWHERE:
        data[row, col] += snr * frame["noise"]
    header = frame["header"].copy()
    header.update(frame["wcs"].to_header())
    fits.PrimaryHDU(data, header).writeto(folder / "exposure.fits")
    rows, cols = data.shape
    lines = ["id,ra,dec,size"]
    for name, (row, col) in (("galaxy", (rows // 2, cols // 2)), ("blank", BLANK)):
        sky = frame["wcs"].pixel_to_world(col, row)
        lines.append(f"{name},{sky.ra.deg:.8f},{sky.dec.deg:.8f},4.0")
    (folder / "sources.csv").write_text("\n".join(lines) + "\n")
    return {"folder": folder, "path": folder / "exposure.fits", "catalog": folder / "sources.csv", "data": data}


def _history(path) -> str:
    return " ".join(str(card) for card in fits.getheader(path)["HISTORY"])


def test_catalogue_run_cleans_the_frame_before_cutting_stamps(frame, catalogue_frame):
    from seeinggan.infer.catalog import cleaned_image, deblur_catalog
    from seeinggan.io.fits import read_image

    deblurrer = Deblurrer("default")
    image = read_image(catalogue_frame["path"])
    cleaned, found = cleaned_image(deblurrer, image)  # gain and seeing from the header
    # The hit pixels change; every other pixel of the frame is bit-identical.
    assert all(found.mask[row, col] for row, col, _ in NEAR_SOURCE + ELSEWHERE)
    assert found.n_pixels <= 3 * len(NEAR_SOURCE + ELSEWHERE)
    for row, col, _ in NEAR_SOURCE + ELSEWHERE:
        assert abs(cleaned.data[row, col] - frame["clean"][row, col]) < 5 * frame["noise"]
    np.testing.assert_array_equal(cleaned.data[~found.mask], catalogue_frame["data"][~found.mask])

    folder = catalogue_frame["folder"]
    raw_rows = deblur_catalog(deblurrer, [catalogue_frame["path"]], catalogue_frame["catalog"], folder / "raw")
    rows = deblur_catalog(deblurrer, [catalogue_frame["path"]], catalogue_frame["catalog"], folder / "clean",
                          clean_cosmic_rays=True)
    assert [row["status"] for row in rows] == ["ok", "ok"] == [row["status"] for row in raw_rows]
    galaxy, blank = (fits.getdata(folder / "clean" / f"{name}_deblurred.fits") for name in ("galaxy", "blank"))
    raw_galaxy, raw_blank = (fits.getdata(folder / "raw" / f"{name}_deblurred.fits") for name in ("galaxy", "blank"))
    # The blank stamp held no hit: its output is bit-identical with and without cleaning.
    np.testing.assert_array_equal(blank, raw_blank)
    # The galaxy's stamp had two hits: restored as compact sources without cleaning, not with it.
    # The output keeps flux: what cleaning took out is the hits' flux (measured 167 counts for
    # 143 injected), peaking at each hit (0.1" = 3 output pixels).
    from astropy.wcs import WCS

    removed = raw_galaxy - galaxy
    injected = sum(snr * frame["noise"] for _, _, snr in NEAR_SOURCE)
    print(f"{injected:.1f} counts injected in the stamp, {removed.sum():.1f} fewer in the output")
    assert 0.7 * injected < removed.sum() < 1.3 * injected
    stamp_wcs = WCS(fits.getheader(folder / "clean" / "galaxy_deblurred.fits"))
    for row, col, _ in NEAR_SOURCE:
        x, y = (int(round(float(v))) for v in stamp_wcs.world_to_pixel(frame["wcs"].pixel_to_world(col, row)))
        assert removed[y - 3:y + 4, x - 3:x + 4].max() > 0.5 * removed.max()
    # HISTORY: the stamp's cleaned pixels and the frame's.
    history = _history(folder / "clean" / "galaxy_deblurred.fits")
    match = re.search(r"(\d+) stamp px cleaned of cosmic rays \((\d+) in image\)", history)
    print(history)
    assert match is not None and int(match[2]) == found.n_pixels
    assert len(NEAR_SOURCE) <= int(match[1]) <= found.n_pixels - len(ELSEWHERE)
    assert f"0 stamp px cleaned of cosmic rays ({found.n_pixels} in image)" in _history(
        folder / "clean" / "blank_deblurred.fits")
    assert "cleaned of cosmic rays" not in _history(folder / "raw" / "galaxy_deblurred.fits")


def test_cli_catalogue_run_cleans_cosmic_rays(frame, catalogue_frame, tmp_path, capsys):
    from seeinggan.cli import main

    out = tmp_path / "out"
    assert main(["deblur", str(catalogue_frame["path"]), "--catalog", str(catalogue_frame["catalog"]),
                 "-o", str(out), "--clean-cosmic-rays"]) == 0
    assert "2 ok" in capsys.readouterr().out
    history = _history(out / "galaxy_deblurred.fits")
    match = re.search(r"(\d+) stamp px cleaned of cosmic rays \((\d+) in image\)", history)
    assert match is not None and int(match[1]) >= len(NEAR_SOURCE) and int(match[2]) > int(match[1])
    # The same stamps as a Python run (same model, tiles and cleaning).
    from seeinggan.infer.catalog import deblur_catalog

    deblur_catalog(Deblurrer("default"), [catalogue_frame["path"]], catalogue_frame["catalog"], tmp_path / "py",
                   clean_cosmic_rays=True)
    for name in ("galaxy", "blank"):
        np.testing.assert_array_equal(fits.getdata(out / f"{name}_deblurred.fits"),
                                      fits.getdata(tmp_path / "py" / f"{name}_deblurred.fits"))
    # Without a gain: one line naming the file, before any work, and nothing written.
    header = fits.getheader(catalogue_frame["path"])
    del header["GAIN"]
    fits.PrimaryHDU(catalogue_frame["data"], header).writeto(tmp_path / "nogain.fits")
    assert main(["deblur", str(tmp_path / "nogain.fits"), "--catalog", str(catalogue_frame["catalog"]),
                 "-o", str(tmp_path / "out2"), "--clean-cosmic-rays"]) == 2
    assert "nogain.fits[0]: no GAIN in the header" in capsys.readouterr().err
    assert not (tmp_path / "out2" / "galaxy_deblurred.fits").exists()
    # --gain supplies it.
    assert main(["deblur", str(tmp_path / "nogain.fits"), "--catalog", str(catalogue_frame["catalog"]),
                 "-o", str(tmp_path / "out3"), "--clean-cosmic-rays", "--gain", str(frame["gain"])]) == 0
    assert f"{match[1]} stamp px cleaned" in _history(tmp_path / "out3" / "galaxy_deblurred.fits")
