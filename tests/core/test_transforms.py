"""The intensity transform: robust sky and noise, exact round trip, metadata, NaNs, torch."""

import json

import numpy as np
import pytest
import torch
from seeinggan.transforms import DEFAULT_SOFTENING, IntensityTransform, measure_sky_noise


def _sky_with_galaxy(rng, shape=(200, 200), sky=12.5, noise=0.8):
    data = rng.normal(sky, noise, shape)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    data += 500.0 * np.exp(-((yy - 90) ** 2 + (xx - 110) ** 2) / (2 * 6.0**2))
    return data


def test_fit_measures_sky_and_noise_despite_a_bright_galaxy():
    rng = np.random.default_rng(1)
    data = _sky_with_galaxy(rng)
    transform = IntensityTransform.fit(data)
    assert transform.sky == pytest.approx(12.5, abs=0.03)
    assert transform.noise == pytest.approx(0.8, rel=0.04)
    assert transform.softening == DEFAULT_SOFTENING
    # a plain mean/std would be far off: the galaxy matters
    assert np.std(data) > 2 * 0.8


def test_fit_ignores_nan_and_inf():
    rng = np.random.default_rng(2)
    data = _sky_with_galaxy(rng)
    clean = IntensityTransform.fit(data)
    data[:50] = np.nan
    data[60, :10] = np.inf
    dirty = IntensityTransform.fit(data)
    assert dirty.sky == pytest.approx(clean.sky, abs=0.05)
    assert dirty.noise == pytest.approx(clean.noise, rel=0.05)


def test_fit_of_all_nan_is_a_clear_error():
    with pytest.raises(ValueError, match="no finite pixel"):
        IntensityTransform.fit(np.full((8, 8), np.nan))


def test_noiseless_constant_image_still_gives_a_positive_noise():
    sky, noise = measure_sky_noise(np.full((16, 16), 3.0))
    assert sky == 3.0 and noise > 0
    transform = IntensityTransform.fit(np.full((16, 16), 3.0))
    assert np.all(transform.forward(np.full((4, 4), 3.0)) == 0)


def test_forward_inverse_round_trip_is_exact_numpy():
    rng = np.random.default_rng(3)
    data = _sky_with_galaxy(rng)
    transform = IntensityTransform.fit(data)
    y = transform.forward(data)
    assert y.dtype == np.float64
    # sky maps to ~0, one noise unit to ~1/softening, the bright core is compressed
    assert abs(np.median(y)) < 0.05
    assert y.max() < np.arcsinh(600 / (DEFAULT_SOFTENING * 0.7))
    back = transform.inverse(y)
    np.testing.assert_allclose(back, data, rtol=1e-12, atol=1e-12 * transform.scale)


def test_round_trip_float32_and_big_endian_keep_a_native_float32():
    rng = np.random.default_rng(4)
    data = _sky_with_galaxy(rng).astype(">f4")
    transform = IntensityTransform.fit(data)
    y = transform.forward(data)
    assert y.dtype == np.dtype(np.float32) and y.dtype.isnative
    back = transform.inverse(y)
    np.testing.assert_allclose(back, data, rtol=2e-6, atol=2e-6 * transform.scale)


def test_round_trip_torch_tensors():
    transform = IntensityTransform(sky=5.0, noise=0.5, softening=2.0)
    x = torch.linspace(-20, 5000, 1001, dtype=torch.float64)
    y = transform.forward(x)
    assert isinstance(y, torch.Tensor)
    assert torch.allclose(transform.inverse(y), x, rtol=1e-12, atol=1e-12)
    # numpy and torch agree
    np.testing.assert_allclose(y.numpy(), transform.forward(x.numpy()), rtol=1e-14)


def test_values_match_the_documented_formula():
    transform = IntensityTransform(sky=10.0, noise=2.0, softening=3.0)
    x = np.array([10.0, 16.0, 1000.0, 4.0])
    np.testing.assert_allclose(transform.forward(x), np.arcsinh((x - 10.0) / 6.0))


def test_nan_passes_through():
    transform = IntensityTransform(sky=1.0, noise=1.0)
    out = transform.inverse(transform.forward(np.array([np.nan, 2.0])))
    assert np.isnan(out[0]) and out[1] == pytest.approx(2.0)


def test_to_dict_from_dict_round_trip_through_json():
    transform = IntensityTransform(sky=0.125, noise=0.037, softening=2.5)
    again = IntensityTransform.from_dict(json.loads(json.dumps(transform.to_dict())))
    assert again == transform


def test_template_from_metadata_keeps_its_softening_when_fitted():
    template = IntensityTransform.from_dict({"kind": "noise_scaled_asinh", "softening": 5.0})
    rng = np.random.default_rng(5)
    fitted = template.fit(rng.normal(0.0, 1.0, (64, 64)))
    assert fitted.softening == 5.0
    assert fitted.noise == pytest.approx(1.0, rel=0.1)
    assert IntensityTransform.fit(np.ones((4, 4)), softening=1.5).softening == 1.5


def test_bad_parameters_are_clear_errors():
    with pytest.raises(ValueError, match="positive"):
        IntensityTransform(noise=0.0)
    with pytest.raises(ValueError, match="unknown intensity transform kind"):
        IntensityTransform.from_dict({"kind": "log"})
    with pytest.raises(ValueError, match="parameter"):
        IntensityTransform.from_dict({"gamma": 2})
