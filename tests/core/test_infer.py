"""Deblurrer: no seams, sky positions kept, flux units, NaNs, streaming, progress and cancel."""

import numpy as np
import pytest
import torch
from astropy.coordinates import SkyCoord
from seeinggan import Cancelled, geometry
from seeinggan.infer import Deblurrer, DeblurResult
from seeinggan.infer.tiling import blend_window, plan_tiles, receptive_field_radius, weight_sums
from seeinggan.models import UNetGenerator
from seeinggan.models.io import load_model, save_model

GROUND = 0.202
SPACE = 0.03


def _random_generator(seed=0, **kwargs):
    """A tiny *non-identity* generator: random weights everywhere, no residual."""
    torch.manual_seed(seed)
    config = dict(base_channels=4, n_down=2, n_res=1, residual=False)
    config.update(kwargs)
    return UNetGenerator(**config)


def _identity_generator():
    """An untrained residual generator: its last convolution starts at zero, so it is the identity."""
    torch.manual_seed(0)
    return UNetGenerator(base_channels=4, n_down=2, n_res=1, residual=True)


def _field(rng, shape, sky=10.0, noise=1.0):
    image = rng.normal(sky, noise, shape).astype(np.float32)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    for y, x, amp, sigma in [(200, 310, 60, 5), (40, 60, 30, 2), (480, 20, 90, 8), (300, 150, 15, 20)]:
        image += (amp * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * sigma**2))).astype(np.float32)
    return image


# ----------------------------------------------------------------------------------------------
# Tiling
# ----------------------------------------------------------------------------------------------


def test_windows_cross_fade_and_sum_to_one_between_tiles():
    grid = plan_tiles((512, 512), tile=128, overlap=64, multiple=4)
    assert grid.tile == (128, 128) and grid.pad == 32
    assert all(b - a == 64 for a, b in zip(grid.starts[0], grid.starts[0][1:], strict=False))
    # the padded image is covered to the end
    assert grid.starts[0][-1] + 128 >= 512 + 2 * 32
    window = blend_window(128, 64)
    assert window[:16].max() <= 1e-6 and window[48:80].min() == 1.0
    # complementary ramps: two neighbours give weight 1 across their overlap
    sum_y, _ = weight_sums(grid)
    inner = sum_y[grid.pad + 64 : grid.pad + 512 - 64]
    np.testing.assert_allclose(inner, 1.0, atol=2e-6)


def test_stride_is_a_multiple_of_the_network_size_multiple():
    grid = plan_tiles((1000, 700), tile=256, overlap=40, multiple=16)
    for starts in grid.starts:
        assert all(s % 16 == 0 for s in starts)
    assert grid.overlap == (48, 48)  # 256 - 40 = 216 rounds down to a stride of 208


def test_receptive_field_radius_of_the_generator():
    # 1 + (2 + 4 + 8 + 16) + 64 * n_res + 2 * (16 + 8 + 4 + 2) + 2 pixels wide for n_down = 4
    radius = receptive_field_radius(UNetGenerator(base_channels=2, n_down=4, n_res=4))
    assert radius == (1 + 30 + 256 + 60 + 2 - 1 + 1) // 2
    assert receptive_field_radius(_random_generator()) == 18


# ----------------------------------------------------------------------------------------------
# No seams
# ----------------------------------------------------------------------------------------------


def test_tiled_equals_untiled_on_a_512_image():
    generator = _random_generator()
    radius = receptive_field_radius(generator)
    overlap = 4 * radius  # the documented condition for exactness
    rng = np.random.default_rng(1)
    image = _field(rng, (512, 512))
    tiled = Deblurrer((generator, {}), device="cpu", tile=128, overlap=overlap, batch_size=3)
    whole = Deblurrer((generator, {}), device="cpu", tile=1024, overlap=overlap)
    a = tiled.deblur(image, pixel_scale=SPACE)
    b = whole.deblur(image, pixel_scale=SPACE)
    assert a.metadata["settings"]["tile"] == [128, 128]  # really tiled: 7 x 7 tiles
    assert b.metadata["settings"]["tile"][0] >= 512  # really one tile
    assert a.data.shape == b.data.shape == (512, 512)
    # the network is far from the identity, so agreement is not trivial
    assert np.abs(b.data - image).max() > 1.0
    assert np.abs(a.data - b.data).max() < 1e-4


def test_too_small_an_overlap_shows_the_tile_borders():
    # The counter-check of the test above: the same network with an overlap below its
    # receptive field does leave differences, so the test above measures something.
    generator = _random_generator()
    rng = np.random.default_rng(1)
    image = _field(rng, (256, 256))
    a = Deblurrer((generator, {}), device="cpu", tile=64, overlap=8).deblur(image, pixel_scale=SPACE)
    b = Deblurrer((generator, {}), device="cpu", tile=1024, overlap=8).deblur(image, pixel_scale=SPACE)
    assert np.abs(a.data - b.data).max() > 1e-3


def test_auto_overlap_follows_the_receptive_field():
    deblurrer = Deblurrer((_random_generator(), {}), device="cpu", tile=256, overlap="auto")
    assert deblurrer.overlap == 4 * 18
    # capped at half a tile
    assert Deblurrer((_random_generator(), {}), device="cpu", tile=128, overlap="auto").overlap == 64


# ----------------------------------------------------------------------------------------------
# Geometry and units
# ----------------------------------------------------------------------------------------------


def _ground_frame_with_point_source(shape=(64, 64)):
    center = SkyCoord(150.1, 2.2, unit="deg")
    wcs = geometry.make_tan_wcs(center=center, pixel_scale=GROUND, shape=shape, rotation_deg=30.0)
    x0, y0 = 30.3, 25.7  # a sub-pixel position, FITS/WCS (x, y), 0-based
    sky = wcs.pixel_to_world(x0, y0)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    rng = np.random.default_rng(2)
    image = rng.normal(5.0, 0.05, shape) + 400.0 * np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / (2 * 1.2**2))
    return image.astype(np.float32), wcs, sky


def test_a_source_keeps_its_sky_position_through_deblur():
    image, wcs, sky = _ground_frame_with_point_source()
    result = Deblurrer((_identity_generator(), {"name": "identity"}), device="cpu", tile=128, overlap=32).deblur(
        image, wcs=wcs
    )
    assert isinstance(result, DeblurResult)
    assert result.data.shape == geometry.upsampled_shape(image.shape, GROUND / SPACE) == (431, 431)
    assert result.pixel_scale == pytest.approx(SPACE, rel=1e-9)
    assert geometry.pixel_scale(result.wcs) == pytest.approx(SPACE, rel=1e-6)
    # peak, refined by a centroid over a small window above the sky
    data = result.data - np.median(result.data)
    row, col = np.unravel_index(np.nanargmax(data), data.shape)
    window = data[row - 8 : row + 9, col - 8 : col + 9]
    yy, xx = np.mgrid[-8:9, -8:9]
    weights = np.clip(window, 0, None)
    y_peak = row + (weights * yy).sum() / weights.sum()
    x_peak = col + (weights * xx).sum() / weights.sum()
    expected_x, expected_y = result.wcs.world_to_pixel(sky)
    distance = np.hypot(x_peak - expected_x, y_peak - expected_y)
    assert distance < 0.5, f"source moved by {distance:.2f} output pixels"
    assert result.wcs.pixel_to_world(x_peak, y_peak).separation(sky).arcsec < 0.5 * SPACE


def test_output_is_in_the_input_flux_units():
    image, wcs, _ = _ground_frame_with_point_source()
    result = Deblurrer((_identity_generator(), {}), device="cpu", tile=128, overlap=32).deblur(image, wcs=wcs)
    # identity network: the output is the flux-conserving resampling, and totals are kept
    expected = geometry.zoom_to_scale(image, factor=GROUND / SPACE, conserve="flux")
    np.testing.assert_allclose(result.data, expected, rtol=1e-4, atol=1e-6)
    assert result.data.sum() == pytest.approx(image.sum(), rel=0.01)
    assert result.data.dtype == np.float32


def test_wcs_and_explicit_pixel_scale_must_agree():
    image, wcs, _ = _ground_frame_with_point_source((32, 32))
    deblurrer = Deblurrer((_identity_generator(), {}), device="cpu", tile=128)
    assert deblurrer.deblur(image, wcs=wcs, pixel_scale=0.2021).data.shape == (215, 215)
    with pytest.raises(ValueError, match="disagrees"):
        deblurrer.deblur(image, wcs=wcs, pixel_scale=0.3)


def test_missing_pixel_scale_and_bad_shapes_are_clear_errors():
    deblurrer = Deblurrer((_identity_generator(), {}), device="cpu")
    with pytest.raises(ValueError, match="pixel scale: pass a celestial wcs= or pixel_scale="):
        deblurrer.deblur(np.zeros((32, 32)))
    with pytest.raises(ValueError, match="2-D image.*planes"):
        deblurrer.deblur(np.zeros((3, 32, 32)), pixel_scale=SPACE)
    # a leading axis of length 1 (a FITS cube of one plane) is fine
    assert deblurrer.deblur(np.ones((1, 32, 32)), pixel_scale=SPACE).data.shape == (32, 32)
    with pytest.raises(ValueError, match="positive"):
        deblurrer.deblur(np.zeros((32, 32)), pixel_scale=-1)


def test_nans_are_masked_for_the_network_and_restored():
    rng = np.random.default_rng(3)
    image = _field(rng, (64, 64))
    image[10:20, 30:40] = np.nan
    generator = _random_generator()
    result = Deblurrer((generator, {}), device="cpu", tile=128, overlap=32).deblur(image, pixel_scale=GROUND)
    expected_nan = np.isnan(geometry.zoom_to_scale(image, factor=GROUND / SPACE))
    assert expected_nan.sum() > 0
    np.testing.assert_array_equal(np.isnan(result.data), expected_nan)
    # the NaNs did not leak into their surroundings through the network
    assert np.isfinite(result.data[~expected_nan]).all()


# ----------------------------------------------------------------------------------------------
# Model files, streaming, progress, cancel, cutouts
# ----------------------------------------------------------------------------------------------


def test_loads_a_model_file_and_reports_it(tmp_path):
    generator = _random_generator(seed=4)
    path = save_model(tmp_path / "tiny", generator, metadata={"intensity_transform": {"softening": 2.0}})
    deblurrer = Deblurrer(path, device="cpu", tile=64, overlap=16)
    assert deblurrer.model_name == "tiny"
    assert deblurrer.transform_template.softening == 2.0
    rng = np.random.default_rng(5)
    image = _field(rng, (100, 100))
    result = deblurrer.deblur(image, pixel_scale=SPACE)
    # same numbers as the network object itself
    loaded, loaded_meta = load_model(path)
    same = Deblurrer((loaded, loaded_meta), device="cpu", tile=64, overlap=16).deblur(image, pixel_scale=SPACE)
    np.testing.assert_array_equal(result.data, same.data)
    meta = result.metadata
    assert meta["model"] == "tiny" and meta["model_path"] == str(path)
    assert meta["settings"]["overlap"] == [16, 16] and meta["settings"]["device"] == "cpu"
    assert meta["intensity_transform"]["softening"] == 2.0
    assert "tiny" in meta["history"] and meta["seeinggan_version"]


def test_streams_to_a_kept_npy_file_or_a_temporary_memmap(tmp_path):
    rng = np.random.default_rng(6)
    image = _field(rng, (96, 80))
    generator = _random_generator()
    in_memory = Deblurrer((generator, {}), device="cpu", tile=64, overlap=16).deblur(image, pixel_scale=SPACE)
    target = tmp_path / "out.npy"
    kept = Deblurrer((generator, {}), device="cpu", tile=64, overlap=16).deblur(image, pixel_scale=SPACE, out=target)
    assert isinstance(kept.data, np.memmap)
    np.testing.assert_array_equal(np.load(target), in_memory.data)
    with pytest.raises(FileExistsError, match="out.npy"):
        Deblurrer((generator, {}), device="cpu", tile=64, overlap=16).deblur(image, pixel_scale=SPACE, out=target)
    streamed = Deblurrer((generator, {}), device="cpu", tile=64, overlap=16, stream_threshold=0).deblur(
        image, pixel_scale=SPACE
    )
    assert isinstance(streamed.data, np.memmap)
    np.testing.assert_array_equal(np.asarray(streamed.data), in_memory.data)


def test_progress_per_batch_of_tiles_and_cancel():
    rng = np.random.default_rng(7)
    image = _field(rng, (200, 200))
    deblurrer = Deblurrer((_random_generator(), {}), device="cpu", tile=64, overlap=16, batch_size=2)
    calls = []
    deblurrer.deblur(image, pixel_scale=SPACE, progress=lambda done, total: calls.append((done, total)))
    total = calls[-1][1]
    assert total == 25  # 200 + 2 * 8 padded, tiles of 64 at a stride of 48: 5 x 5 tiles
    assert calls[0] == (0, total) and calls[-1] == (total, total)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)

    polls = []

    def stop_after_two_batches():
        polls.append(1)
        return len(polls) > 2

    seen = []
    with pytest.raises(Cancelled):
        deblurrer.deblur(image, pixel_scale=SPACE, progress=lambda d, t: seen.append(d),
                         should_stop=stop_after_two_batches)
    assert seen[-1] == 4  # two batches of two tiles ran, then it stopped


def test_cutouts_run_as_a_batch_and_match_one_by_one():
    rng = np.random.default_rng(8)
    cutouts = np.stack([_field(rng, (512, 512))[k * 40 : k * 40 + 38, 290:328] for k in range(5)])
    deblurrer = Deblurrer((_random_generator(), {}), device="cpu", batch_size=4)
    batch = deblurrer.deblur_cutouts(cutouts, pixel_scale=GROUND)
    assert batch.data.shape == (5, 256, 256)  # 38 * 0.202 / 0.03 = 255.9
    assert batch.pixel_scale == pytest.approx(SPACE)
    assert len(batch.metadata["intensity_transform"]) == 5
    for k in (0, 4):
        single = deblurrer.deblur_cutouts(cutouts[k : k + 1], pixel_scale=GROUND)
        np.testing.assert_allclose(single.data[0], batch.data[k], rtol=1e-5, atol=1e-5)
    # identity network: cutouts come back as their flux-conserving resampling
    identity = Deblurrer((_identity_generator(), {}), device="cpu").deblur_cutouts(cutouts, pixel_scale=GROUND)
    np.testing.assert_allclose(
        identity.data, geometry.zoom_to_scale(cutouts, factor=GROUND / SPACE), rtol=1e-4, atol=1e-5
    )


def test_bad_settings_are_clear_errors():
    generator = _random_generator()
    with pytest.raises(ValueError, match="multiple of 4"):
        Deblurrer((generator, {}), device="cpu", tile=30)
    with pytest.raises(ValueError, match="overlap"):
        Deblurrer((generator, {}), device="cpu", tile=64, overlap=64)
    with pytest.raises(ValueError, match="device"):
        Deblurrer((generator, {}), device="tpu")
