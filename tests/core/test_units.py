"""Pixel scales, seeing and sizes: plain floats (arcsec) or astropy Quantities at every public edge."""

import astropy.units as u
import numpy as np
import pytest
import torch
from astropy.coordinates import SkyCoord
from astropy.io import fits
from scipy import ndimage
from seeinggan import geometry
from seeinggan.errors import InputError
from seeinggan.evaluate import evaluate_pair_list, invented_source_positions, pair_measures
from seeinggan.infer import Deblurrer
from seeinggan.infer.catalog import deblur_catalog
from seeinggan.io.fits import read_image, write_image
from seeinggan.metrics import fidelity_scores, frc_resolution, score_table
from seeinggan.models import UNetGenerator
from seeinggan.simulate import ground_shape_for, kolmogorov_psf, measure_fwhm, moffat_psf, simulate_pair, space_psf
from seeinggan.units import to_arcsec


def test_to_arcsec_converts_angles_and_passes_floats_through():
    assert to_arcsec(1 * u.arcmin, name="seeing") == 60.0
    assert to_arcsec(250 * u.mas, name="seeing") == pytest.approx(0.25, rel=1e-12)
    assert to_arcsec(0.2 * u.arcsec / u.pix, name="pixel_scale", per_pixel=True) == pytest.approx(0.2)
    assert to_arcsec(0.2 * u.arcsec, name="pixel_scale", per_pixel=True) == pytest.approx(0.2)
    assert to_arcsec(1 * u.deg / u.pixel, name="pixel_scale", per_pixel=True) == 3600.0
    assert to_arcsec(0.7, name="seeing") == 0.7 and to_arcsec(None, name="seeing") is None
    assert to_arcsec((0.5, 1.2), name="seeing_fwhm") == (0.5, 1.2)  # plain ranges as given
    assert to_arcsec((30 * u.arcsec, 1 * u.arcmin), name="seeing_fwhm") == (30.0, 60.0)
    np.testing.assert_allclose(to_arcsec([0.5, 1.0] * u.arcmin, name="seeing_fwhm"), [30.0, 60.0])
    assert isinstance(to_arcsec(2 * u.arcsec, name="seeing"), float)


@pytest.mark.parametrize(
    ("value", "per_pixel", "message"),
    [
        (1.0 * u.m, False,
         r"^seeing must be an angle \(e\.g\. 0\.7 \* u\.arcsec\) or a plain number of arcsec, got 1\.0 m$"),
        (0.2 * u.arcsec / u.pix, False, r"^seeing must be an angle .* got 0\.2 arcsec / pix$"),
        (3.0 * u.s, True,
         r"^seeing must be an angle per pixel \(e\.g\. 0\.2 \* u\.arcsec / u\.pix\) .*arcsec/px, got 3\.0 s$"),
    ],
)
def test_a_wrong_unit_is_one_line_naming_the_argument(value, per_pixel, message):
    with pytest.raises(InputError, match=message) as error:
        to_arcsec(value, name="seeing", per_pixel=per_pixel)
    assert "\n" not in str(error.value) and isinstance(error.value, ValueError)


def test_positive_values_are_checked_when_asked():
    with pytest.raises(InputError, match="seeing must be a positive number of arcsec, got -1.0"):
        to_arcsec(-1 * u.arcsec, name="seeing", positive=True)
    with pytest.raises(InputError, match="pixel_scale must be a positive number of arcsec/px"):
        to_arcsec(float("nan"), name="pixel_scale", per_pixel=True, positive=True)
    assert to_arcsec(-1.0, name="offset") == -1.0  # without positive=, numbers are left alone


# --- the Deblurrer ----------------------------------------------------------------------------


def _tiny_deblurrer() -> Deblurrer:
    torch.manual_seed(0)
    net = UNetGenerator(base_channels=4, n_down=2, n_res=1, n_conditions=2)
    with torch.no_grad():
        net.head.weight.normal_(0, 0.05)
    meta = {"name": "tiny", "pixel_scale_arcsec": 0.03, "input_pixel_scale_arcsec": 0.2,
            "trained_ranges": {"seeing_fwhm_arcsec": [0.4, 1.6], "input_pixel_scale_arcsec": [0.15, 0.6]}}
    return Deblurrer((net.eval(), meta), device="cpu", tile=64, overlap=16)


def _blob(shape=(24, 24), seed=1):
    rng = np.random.default_rng(seed)
    image = rng.normal(0, 1, shape).astype(np.float32)
    image[10:14, 10:14] += 30
    return image


def test_deblur_takes_quantities_for_pixel_scales_and_seeing():
    deblurrer, image = _tiny_deblurrer(), _blob()
    plain = deblurrer.deblur(image, pixel_scale=0.24, seeing=0.9, input_pixel_scale=0.3, output_pixel_scale=0.06)
    quantity = deblurrer.deblur(
        image, pixel_scale=0.24 * u.arcsec / u.pix, seeing=0.015 * u.arcmin, input_pixel_scale=300 * u.mas / u.pix,
        output_pixel_scale=0.06 * u.arcsec,
    )
    np.testing.assert_allclose(quantity.data, plain.data, rtol=1e-6, atol=1e-6)
    assert quantity.data.shape == plain.data.shape and quantity.pixel_scale == pytest.approx(plain.pixel_scale)
    assert quantity.metadata["seeing"] == pytest.approx(0.9)
    with pytest.raises(InputError, match=r"^pixel_scale must be an angle per pixel .* got 0\.24 m$"):
        deblurrer.deblur(image, pixel_scale=0.24 * u.m, seeing=0.9)
    with pytest.raises(InputError, match=r"^seeing must be an angle .* got 0\.9 arcsec / pix$"):
        deblurrer.deblur(image, pixel_scale=0.24, seeing=0.9 * u.arcsec / u.pix)


def test_deblur_cutouts_takes_quantities_one_or_one_per_cutout():
    deblurrer = _tiny_deblurrer()
    stack = np.stack([_blob(seed=1), _blob(seed=2)])
    plain = deblurrer.deblur_cutouts(stack, pixel_scale=0.24, seeing=[0.7, 1.1])
    quantity = deblurrer.deblur_cutouts(stack, pixel_scale=0.24 * u.arcsec / u.pix, seeing=[0.7, 1.1] * u.arcsec)
    np.testing.assert_allclose(quantity.data, plain.data, rtol=1e-6, atol=1e-6)
    with pytest.raises(InputError, match="^seeing must be an angle"):
        deblurrer.deblur_cutouts(stack, pixel_scale=0.24, seeing=0.9 * u.kg)


def test_deblur_catalog_stamp_size_as_a_quantity(tmp_path):
    image = _blob((60, 60))
    wcs = geometry.make_tan_wcs(shape=(60, 60), pixel_scale=0.2, center=SkyCoord(150.0, 2.0, unit="deg"))
    path = write_image(tmp_path / "field.fits", image, header=fits.Header({"SEEING": 0.8}), wcs=wcs)
    centre = read_image(path).wcs.pixel_to_world(30.0, 30.0)
    catalog = tmp_path / "sources.csv"
    catalog.write_text(f"id,ra,dec\ng,{centre.ra.deg},{centre.dec.deg}\n")  # no size: the default
    deblurrer = _tiny_deblurrer()
    for label, size in (("plain", 2.4), ("quantity", 0.04 * u.arcmin)):
        rows = deblur_catalog(deblurrer, [path], catalog, tmp_path / label, size=size)
        assert rows[0]["status"] == "ok" and float(rows[0]["size_arcsec"]) == pytest.approx(2.4)
    a, b = (read_image(tmp_path / k / "g_deblurred.fits").data for k in ("plain", "quantity"))
    assert a.shape == b.shape and a.shape[0] >= 2.4 / 0.03
    np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-6)
    with pytest.raises(InputError, match="^size must be an angle"):
        deblur_catalog(deblurrer, [path], catalog, tmp_path / "bad", size=3 * u.m)


# --- the simulator ---------------------------------------------------------------------------


def test_simulate_pair_takes_quantities():
    plain = simulate_pair(seed=5, space_shape=(64, 64), seeing_fwhm=(0.6, 1.2), ground_pixel_scale=0.25)
    quantity = simulate_pair(seed=5, space_shape=(64, 64), seeing_fwhm=(600 * u.mas, 1.2 * u.arcsec),
                             ground_pixel_scale=0.25 * u.arcsec / u.pix, space_pixel_scale=30 * u.mas / u.pix)
    np.testing.assert_allclose(quantity.ground, plain.ground, rtol=1e-9)
    np.testing.assert_allclose(quantity.space, plain.space, rtol=1e-9)
    assert quantity.params["seeing_fwhm"] == pytest.approx(plain.params["seeing_fwhm"], rel=1e-12)
    shape = ground_shape_for((64, 64), 0.03 * u.arcsec, 0.25 * u.arcsec / u.pix)
    assert shape == ground_shape_for((64, 64), 0.03, 0.25)
    with pytest.raises(InputError, match="^ground_pixel_scale must be an angle per pixel"):
        simulate_pair(seed=5, ground_pixel_scale=0.2 * u.m)
    with pytest.raises(InputError, match="^seeing_fwhm must be an angle"):
        simulate_pair(seed=5, seeing_fwhm=0.8 * u.Hz)


def test_psfs_and_fwhm_take_quantities():
    np.testing.assert_array_equal(moffat_psf(fwhm=1 * u.arcmin / 60, pixel_scale=0.2 * u.arcsec / u.pix),
                                  moffat_psf(fwhm=1.0, pixel_scale=0.2))
    np.testing.assert_array_equal(kolmogorov_psf(fwhm=0.8 * u.arcsec, pixel_scale=0.2 * u.arcsec),
                                  kolmogorov_psf(fwhm=0.8, pixel_scale=0.2))
    np.testing.assert_array_equal(space_psf(pixel_scale=0.03 * u.arcsec / u.pix, shape=(33, 33)),
                                  space_psf(pixel_scale=0.03, shape=(33, 33)))
    star = moffat_psf(fwhm=0.9, pixel_scale=0.2, shape=(25, 25))
    assert measure_fwhm(star, pixel_scale=0.2 * u.arcsec / u.pix)["fwhm"] == pytest.approx(
        measure_fwhm(star, pixel_scale=0.2)["fwhm"], rel=1e-9)
    with pytest.raises(InputError, match="^fwhm must be an angle"):
        moffat_psf(fwhm=0.9 * u.m, pixel_scale=0.2)


# --- metrics and evaluation ------------------------------------------------------------------


def _pair_images(seed=7):
    reference = simulate_pair(seed=seed, space_shape=(128, 128), seeing_fwhm=0.8).space.astype(np.float64)
    return ndimage.gaussian_filter(reference, 8.0), reference  # a seeing-like blur of the space image


def test_fidelity_and_score_functions_take_quantities():
    test, reference = _pair_images()
    plain = fidelity_scores(test, reference, pixel_scale=0.03, seeing_fwhm=0.8)
    quantity = fidelity_scores(test, reference, pixel_scale=30 * u.mas / u.pix, seeing_fwhm=0.8 * u.arcsec)
    assert quantity.keys() == plain.keys()
    for key, value in plain.items():
        assert quantity[key] == pytest.approx(value, rel=1e-9, nan_ok=True), key
    resolution = frc_resolution(test, reference, pixel_scale=0.03 * u.arcsec)
    assert resolution == frc_resolution(test, reference, pixel_scale=0.03)
    rows = score_table(reference, {"ground": test}, pixel_scale=0.03 * u.arcsec / u.pix, seeing_fwhm=0.8 * u.arcsec)
    assert rows[0]["band_error"] == pytest.approx(plain["band_error"], rel=1e-9)
    with pytest.raises(InputError, match="^pixel_scale must be an angle per pixel"):
        fidelity_scores(test, reference, pixel_scale=0.03 * u.m, seeing_fwhm=0.8)


def test_evaluation_measures_take_quantities():
    test, reference = _pair_images()
    test = test.copy()
    test[20, 40] += 50 * np.nanstd(reference)  # an invented point source
    plain = invented_source_positions(test, reference, pixel_scale=0.03)
    quantity = invented_source_positions(test, reference, pixel_scale=0.03 * u.arcsec / u.pix)
    np.testing.assert_array_equal(quantity, plain)
    assert len(plain) >= 1
    valid, aperture = np.ones(test.shape, bool), np.ones(test.shape, bool)
    a = pair_measures(test, reference, valid=valid, aperture=aperture, pixel_scale=0.03, seeing_fwhm=0.8)
    b = pair_measures(test, reference, valid=valid, aperture=aperture, pixel_scale=0.03 * u.arcsec,
                      seeing_fwhm=800 * u.mas)
    assert b == pytest.approx(a, rel=1e-9, nan_ok=True)
    with pytest.raises(InputError, match="^seeing must be an angle"):
        evaluate_pair_list([object()], model=None, seeing=0.8 * u.m, rl_iterations=1)


def test_tan_wcs_takes_a_quantity_pixel_scale():
    center = SkyCoord(150.0, 2.0, unit="deg")
    a = geometry.make_tan_wcs(center=center, pixel_scale=0.2, shape=(10, 12))
    b = geometry.make_tan_wcs(center=center, pixel_scale=200 * u.mas / u.pix, shape=(10, 12))
    np.testing.assert_allclose(b.pixel_scale_matrix, a.pixel_scale_matrix, rtol=1e-12)
    assert geometry.pixel_scale(b) == pytest.approx(0.2, rel=1e-9)
