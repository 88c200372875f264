"""``seeinggan score``: JSON scores of FITS images against a reference, resampled by WCS."""

from __future__ import annotations

import json

import numpy as np
import pytest
from astropy.io import fits
from scipy import ndimage
from seeinggan.cli import main
from seeinggan.io.fits import write_image
from seeinggan.simulate import simulate_pair


@pytest.fixture(scope="module")
def pair_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("score")
    pair = simulate_pair(seed=7, space_shape=(192, 192), seeing_fwhm=0.9, morphology="spiral")
    space = write_image(folder / "space.fits", pair.space, wcs=pair.space_wcs)
    ground = write_image(folder / "ground.fits", pair.ground, wcs=pair.ground_wcs)
    # A "deblurred" stand-in on the space grid: the space image seen at 0.3" resolution.
    sharper = write_image(folder / "sharper.fits", ndimage.gaussian_filter(pair.space, 3.0), wcs=pair.space_wcs)
    return {"space": space, "ground": ground, "sharper": sharper, "pair": pair, "folder": folder}


def _run(capsys, *argv):
    code = main(["score", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_score_prints_json_with_change_against_the_first_test(pair_files, capsys):
    files = pair_files
    code, out, err = _run(capsys, files["space"], files["ground"], files["sharper"], files["space"])
    assert code == 0, err
    report = json.loads(out)
    rows = report["tests"]
    print(json.dumps(rows, indent=1))
    assert [row["name"] for row in rows] == ["ground.fits[0]", "sharper.fits[0]", "space.fits[0]"]
    ground, sharper, itself = rows
    assert report["region_shape"] == [192, 192]
    assert itself["cw_ssim"] == pytest.approx(1.0)
    assert itself["psnr"] is None  # identical: infinite PSNR, null in JSON
    assert ground["cw_ssim"] < sharper["cw_ssim"] < 1.0
    assert ground["cw_ssim_change_percent"] == 0.0
    expected = 100 * (sharper["cw_ssim"] - ground["cw_ssim"]) / ground["cw_ssim"]
    assert sharper["cw_ssim_change_percent"] == pytest.approx(expected)
    assert ground["valid_fraction"] > 0.9  # the ground frame covers the space frame


def test_score_region_by_sky_position_and_by_pixels_agree(pair_files, capsys):
    pair = pair_files["pair"]
    centre = pair.space_wcs.pixel_to_world(95.5, 95.5)
    width = 128 * 0.03
    code, out, err = _run(capsys, pair_files["space"], pair_files["ground"],
                          "--region", f"{centre.ra.deg},{centre.dec.deg},{width}")
    assert code == 0, err
    by_sky = json.loads(out)
    assert by_sky["region_shape"] == [128, 128]
    assert by_sky["region_size_arcsec"] == pytest.approx([3.84, 3.84], abs=0.04)
    x0, y0, x1, y1 = by_sky["region_pixels"]
    code, out, err = _run(capsys, pair_files["space"], pair_files["ground"], "--pixels", f"{x0},{y0},{x1 - 1},{y1 - 1}")
    assert code == 0, err
    by_pixels = json.loads(out)
    assert by_pixels["region_pixels"] == [x0, y0, x1, y1]
    assert by_pixels["tests"][0]["cw_ssim"] == pytest.approx(by_sky["tests"][0]["cw_ssim"])


def test_score_errors_are_one_clear_line(pair_files, capsys, tmp_path):
    space, ground = pair_files["space"], pair_files["ground"]
    code, _, err = _run(capsys, space, tmp_path / "missing.fits")
    assert code == 2 and "missing.fits: file not found" in err and err.count("\n") == 1

    code, _, err = _run(capsys, space, ground, "--pixels", "10,10,60,60")
    assert code == 2 and "51x51 pixels is too small" in err and "97x97" in err

    code, _, err = _run(capsys, space, ground, "--pixels", "500,500,700,700")
    assert code == 2 and "outside the reference image" in err

    code, _, err = _run(capsys, space, ground, "--region", "1,2")
    assert code == 2 and "--region expects 3 comma-separated numbers" in err

    # A ground frame elsewhere on the sky: no overlap.
    far = fits.Header()
    header = pair_files["pair"].ground_wcs.to_header()
    header["CRVAL1"] += 1.0
    far.update(header)
    elsewhere = tmp_path / "elsewhere.fits"
    fits.PrimaryHDU(pair_files["pair"].ground.astype(np.float32), header=far).writeto(elsewhere)
    code, _, err = _run(capsys, space, elsewhere)
    assert code == 2 and "elsewhere.fits" in err and "does not overlap" in err

    # No WCS and another grid: cannot be placed.
    bare = tmp_path / "bare.fits"
    fits.PrimaryHDU(pair_files["pair"].ground.astype(np.float32)).writeto(bare)
    code, _, err = _run(capsys, space, bare)
    assert code == 2 and "bare.fits[0]: no celestial WCS" in err


def test_score_leads_with_fidelity_measures_seeing_from_the_header(pair_files, capsys):
    files, pair = pair_files, pair_files["pair"]
    ground = write_image(files["folder"] / "ground_hdr.fits", pair.ground, header=pair.ground_header,
                         wcs=pair.ground_wcs, overwrite=True)
    code, out, err = _run(capsys, files["space"], ground, files["sharper"], files["space"])
    assert code == 0, err
    report = json.loads(out)
    assert report["seeing_fwhm"] == pytest.approx(0.9)
    assert report["seeing_source"] == "header of ground_hdr.fits[0]"
    assert report["pixel_scale_arcsec"] == pytest.approx(0.03)
    ground_row, sharper_row, itself = report["tests"]
    assert list(ground_row)[:5] == ["name", "band_error", "band_power_ratio", "frc_scale_arcsec", "texture_rms"]
    assert itself["band_error"] == 0.0 and itself["band_power_ratio"] == pytest.approx(1.0)
    assert itself["texture_rms"] == pytest.approx(1.0)
    # The seeing removed most of the band; a 0.21"-FWHM smoothing of the space image keeps most.
    assert ground_row["band_error"] > 0.5 > sharper_row["band_error"]
    assert ground_row["band_power_ratio"] < sharper_row["band_power_ratio"] < 1.0
    assert ground_row["frc_scale_arcsec"] > sharper_row["frc_scale_arcsec"]
    # --seeing overrides the header; without either the band measures are null.
    code, out, err = _run(capsys, files["space"], files["ground"], "--seeing", "1.5")
    assert code == 0, err
    report = json.loads(out)
    assert report["seeing_fwhm"] == 1.5 and report["seeing_source"] == "--seeing"
    code, out, err = _run(capsys, files["space"], files["ground"])
    report = json.loads(out)
    assert report["seeing_fwhm"] is None and report["tests"][0]["band_error"] is None
    assert report["tests"][0]["frc_scale_arcsec"] > 0.3


def test_files_of_one_name_in_two_folders_are_told_apart(tmp_path, capsys):
    """`seeinggan simulate` writes ground/sim_00000.fits and space/sim_00000.fits: the report
    named both "sim_00000.fits[0]" (reference and first test), so a reader could not tell them apart."""
    pair = simulate_pair(seed=7, space_shape=(128, 128), seeing_fwhm=0.9, morphology="spiral")
    for folder, data, wcs in (("space", pair.space, pair.space_wcs), ("ground", pair.ground, pair.ground_wcs)):
        (tmp_path / folder).mkdir()
        write_image(tmp_path / folder / "sim_00000.fits", data, wcs=wcs)
    code, out, err = _run(capsys, tmp_path / "space/sim_00000.fits", tmp_path / "ground/sim_00000.fits")
    assert code == 0, err
    report = json.loads(out)
    assert report["reference"] == "space/sim_00000.fits[0]"
    assert [row["name"] for row in report["tests"]] == ["ground/sim_00000.fits[0]"]
