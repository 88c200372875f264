"""One header builder for deblurred images (command line, survey runs, the plugin's Save)."""

import inspect
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from seeinggan import geometry
from seeinggan.infer.header import deblurred_header
from seeinggan.io.fits import (
    GRID_KEYWORDS,
    GRID_PIXEL_SCALE_KEYWORDS,
    PIXEL_SCALE_READ_KEYWORDS,
    derived_header,
    read_image,
    write_image,
)


def _input_header():
    wcs = geometry.make_tan_wcs(center=SkyCoord(150.1 * u.deg, 2.2 * u.deg), pixel_scale=0.202,
                                shape=(20, 20))
    header = wcs.to_header()
    header["BUNIT"] = "count"
    header["MAGZP"] = (27.0, "AB zero point")
    header["EXPTIME"] = 600.0
    header["FILTER"] = "r'"
    header["GAIN"] = (3.2, "e-/count")
    header["RDNOISE"] = 4.0
    header["SATURATE"] = 50000.0
    header["SKYSIG"] = 5.1
    header["SEEING"] = (0.81, "[arcsec] FWHM")
    header["PIXSCALE"] = 0.202
    header["DATASEC"] = "[1:20,1:20]"
    header["SGMODEL"] = "an earlier run"  # deblurred before: its provenance must not survive
    header["HISTORY"] = "flat fielded"
    return wcs, header


def test_deblurred_header_round_trips_through_a_fits_file(tmp_path):
    wcs, header = _input_header()
    out_wcs = geometry.upsampled_wcs(wcs, 0.202 / 0.03, (20, 20))
    metadata = {"pixel_scale": 0.03, "input_pixel_scale": 0.202, "seeing": 0.81,
                "seeing_source": "SEEING", "model": "default",
                "out_of_range": ["seeing FWHM 0.81\" inside, scale outside"]}
    built = deblurred_header(header, metadata, seeing_keyword="SEEING", wcs=out_wcs,
                             history=["deblur: 0.202 -> 0.03 arcsec/px"])
    assert header["GAIN"] == 3.2 and header["SGMODEL"] == "an earlier run"  # input untouched
    data = np.arange(135 * 135, dtype=np.float32).reshape(135, 135)
    path = write_image(tmp_path / "deblurred.fits", data, header=built, wcs=out_wcs)
    back = read_image(path).header
    # kept: units, photometry, observation
    assert back["BUNIT"] == "count" and back["MAGZP"] == 27.0 and back["EXPTIME"] == 600.0
    assert back["FILTER"] == "r'"
    # dropped: what only held on the input's pixels or PSF (GAIN-like cards included)
    for key in ("GAIN", "RDNOISE", "SATURATE", "SKYSIG", "SEEING", "DATASEC"):
        assert key not in back, key
    # the new grid, and what the model was told
    assert back["PIXSCALE"] == 0.03 and back["SGOUTSCL"] == 0.03 and back["SGINSCL"] == 0.202
    assert back["SGSEEING"] == 0.81 and back["SGSEESRC"] == "SEEING" and back["SGMODEL"] == "default"
    assert back["SGRANGE"] is False
    history = [str(h) for h in back["HISTORY"]]
    assert history[0] == "flat fielded"
    assert any(h.endswith("deblur: 0.202 -> 0.03 arcsec/px") for h in history)
    assert any("outside trained range" in h for h in history)
    assert geometry.pixel_scale(geometry.celestial_wcs(back)) == pytest.approx(0.03, rel=1e-6)
    assert back["NAXIS1"] == 135


@pytest.mark.filterwarnings("ignore:Keyword name:astropy.io.fits.verify.VerifyWarning")
def test_no_pixel_scale_read_from_a_header_survives_a_new_grid():
    # Two lists, two jobs: the cards read for a pixel scale (in order) and the wider set dropped
    # on a new grid. Every card read must be dropped, or a regridded image would keep a stale scale.
    assert len(GRID_PIXEL_SCALE_KEYWORDS) > len(PIXEL_SCALE_READ_KEYWORDS)
    for key in PIXEL_SCALE_READ_KEYWORDS:
        header = fits.Header([(key, 0.202)])
        assert geometry.pixel_scale_from_header(header) == 0.202, key
        assert geometry.pixel_scale_from_header(derived_header(header, new_grid=True)) is None, key
        assert derived_header(header, new_grid=False)[key] == 0.202, key
    # Dropped on a new grid but never read as a pixel scale (SCALE names other things too).
    for key in set(GRID_PIXEL_SCALE_KEYWORDS) - set(PIXEL_SCALE_READ_KEYWORDS):
        assert geometry.pixel_scale_from_header(fits.Header([(key, 0.202)])) is None, key


@pytest.mark.filterwarnings("ignore:Keyword name:astropy.io.fits.verify.VerifyWarning")
def test_every_grid_keyword_is_dropped_and_the_writers_use_the_one_builder():
    header = _input_header()[1]
    for key in GRID_KEYWORDS:
        header[key] = 1.0
    out = deblurred_header(header, {"pixel_scale": 0.03})
    assert [key for key in GRID_KEYWORDS if key in out] == ["PIXSCALE"]  # rewritten for the output
    # The command line, the survey runs and the plugin's Save all build headers with it.
    from seeinggan.cli import deblur as cli_deblur
    from seeinggan.infer import catalog, streaming

    for module in (cli_deblur, catalog, streaming):
        assert "deblurred_header(" in inspect.getsource(module), module.__name__
    plugin = Path(__file__).resolve().parents[2] / "napari_seeinggan" / "widgets" / "deblur.py"
    assert "deblurred_header(" in plugin.read_text()  # read, not imported: tests/core has no Qt
