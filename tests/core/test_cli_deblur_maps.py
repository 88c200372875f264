"""``seeinggan deblur --maps``: the UNCERTAINTY and CONSISTENCY extensions, their WCS and units."""

import numpy as np
import pytest
import torch
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS
from seeinggan import geometry
from seeinggan.cli import main
from seeinggan.io.fits import write_image
from seeinggan.models import UNetGenerator
from seeinggan.models.io import save_model


@pytest.fixture
def tiny_model(tmp_path):
    torch.manual_seed(0)
    generator = UNetGenerator(base_channels=4, n_down=2, n_res=1, residual=False)
    return save_model(tmp_path / "models" / "tiny", generator, metadata={"description": "test"})


def _ground_fits(path, *, seeing=0.8, shape=(24, 20)):
    rng = np.random.default_rng(0)
    data = rng.normal(0.0, 0.5, shape).astype(np.float32)
    data[10:13, 8:11] += 30.0
    header = fits.Header()
    header["BUNIT"] = "count"
    if seeing is not None:
        header["SEEING"] = seeing
    header["GAIN"] = 10.0
    wcs = geometry.make_tan_wcs(center=SkyCoord(150.0, 2.0, unit="deg"), pixel_scale=0.202, shape=shape)
    write_image(path, data, header=header, wcs=wcs)
    return path, wcs


def _run(source, out_dir, model, *extra):
    return main(["deblur", str(source), "-o", str(out_dir), "--model", str(model), "--device", "cpu",
                 "--tile", "64", "--overlap", "16", "--maps", *extra])


def test_maps_are_image_extensions_with_their_grids_wcs(tmp_path, tiny_model, capsys):
    source, input_wcs = _ground_fits(tmp_path / "field.fits")
    out_dir = tmp_path / "out"
    assert _run(source, out_dir, tiny_model) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("wrote") and "unstable:" in line and "% of source flux" in line and "|chi| > 5" in line
    target = out_dir / "field_deblurred.fits"
    assert [p.name for p in out_dir.iterdir()] == [target.name]  # no temporary file left
    with fits.open(target) as hdus:
        assert [hdu.name for hdu in hdus] == ["PRIMARY", "UNCERTAINTY", "CONSISTENCY", "SUPPORT"]
        primary, uncertainty, consistency, support = hdus
        # the support guard's map: on the output grid, 0-1, its image share in the header
        assert support.data.shape == primary.data.shape
        assert WCS(support.header).wcs.compare(WCS(primary.header).wcs, tolerance=1e-12)
        assert np.nanmin(support.data) >= 0 and np.nanmax(support.data) <= 1
        assert support.header["SUPPFRAC"] == pytest.approx(float(np.nanmean(support.data)), rel=1e-5)
        assert 0 < support.header["SUPPFRAC"] < 1  # the 30-count source is supported, the noise is not
        assert support.data[tuple(np.array(np.unravel_index(np.nanargmax(primary.data), primary.data.shape)))] > 0.5
        assert any("support guard, 5 sigma" in str(card) for card in primary.header["HISTORY"])
        assert uncertainty.data.shape == primary.data.shape == geometry.upsampled_shape((24, 20), 0.202 / 0.03)
        assert consistency.data.shape == (24, 20)
        # WCS: the uncertainty map sits on the primary's grid, the chi map on the input's.
        out_wcs = WCS(primary.header)
        assert WCS(uncertainty.header).wcs.compare(out_wcs.wcs, tolerance=1e-12)
        assert WCS(consistency.header).wcs.compare(input_wcs.wcs, tolerance=1e-12)
        assert uncertainty.header["BUNIT"].strip() == "count"
        assert "Uncertainty" in str(uncertainty.header["COMMENT"])
        assert "chi map" in str(consistency.header["COMMENT"])
        assert consistency.header["SEEING"] == pytest.approx(0.8)
        assert 0.0 <= uncertainty.header["FLAGFRAC"] <= 1.0
        assert np.nanmax(uncertainty.data) > 0 and np.isfinite(consistency.data).all()


def test_seeing_from_the_command_line_and_its_absence(tmp_path, tiny_model, capsys):
    source, _ = _ground_fits(tmp_path / "field.fits", seeing=None)
    assert _run(source, tmp_path / "out", tiny_model) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "field.fits" in err[0] and "--seeing" in err[0]
    assert not (tmp_path / "out" / "field_deblurred.fits").exists()
    assert _run(source, tmp_path / "out", tiny_model, "--seeing", "1.1") == 0
    with fits.open(tmp_path / "out" / "field_deblurred.fits") as hdus:
        assert hdus["CONSISTENCY"].header["SEEING"] == pytest.approx(1.1)


def test_no_support_guard_gives_the_raw_output_and_no_support_map(tmp_path, tiny_model):
    source, _ = _ground_fits(tmp_path / "field.fits")
    assert _run(source, tmp_path / "guarded", tiny_model) == 0
    assert _run(source, tmp_path / "raw", tiny_model, "--no-support-guard") == 0
    with fits.open(tmp_path / "raw" / "field_deblurred.fits") as raw, \
            fits.open(tmp_path / "guarded" / "field_deblurred.fits") as guarded:
        assert [hdu.name for hdu in raw] == ["PRIMARY", "UNCERTAINTY", "CONSISTENCY"]
        assert "guard" not in "".join(str(card) for card in raw[0].header["HISTORY"])
        difference = np.abs(raw[0].data - guarded[0].data)
        assert np.nanmax(difference) > 0  # the guard changed the unsupported detail...
        # ...and kept the flux: to rounding within a tile (test_support_guard); here, on 64 px
        # tiles only 2.4 FWHM wide, to 2.8% (the spreading near tile edges is blended)
        assert np.nansum(guarded[0].data) == pytest.approx(np.nansum(raw[0].data), rel=0.05)
