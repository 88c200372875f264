"""seeinggan.metrics: the torch DT-CWT against dtcwt's numpy transform, CW-SSIM, SSIM, PSNR, compare."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage
from seeinggan.metrics import (
    DEFAULT_K,
    NOISE_K,
    RegionTooSmallError,
    compare,
    cw_ssim,
    dtcwt_forward,
    min_size_for_levels,
    normalisation,
    percent_change,
    psnr,
    score_table,
    ssim,
)


def _galaxy(size: int = 160, *, shift: int = 0, seed: int = 3, noise: float = 0.01) -> np.ndarray:
    """A knotty two-armed spiral galaxy with white noise, peak ~1.

    ``shift`` moves the galaxy and its noise together by that many pixels along x, as one image
    taken twice with a small misregistration.
    """
    pad = 8
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: size + 2 * pad, : size + 2 * pad].astype(float)
    x, y = xx - (size + 2 * pad) / 2, yy - (size + 2 * pad) / 2
    r = np.hypot(x, y / 0.7)
    theta = np.arctan2(y, x)
    disk = np.exp(-r / (size / 10)) * (1 + 0.8 * np.cos(2 * theta - r / (size / 40)))
    knots = ndimage.gaussian_filter(rng.normal(size=disk.shape), 1.0)  # star-forming clumps
    image = disk * (1 + 0.5 * knots / knots.std()) + 2 * np.exp(-((r / 5) ** 2))
    image = image / image.max() + rng.normal(0, noise, image.shape)
    start = pad + int(shift)
    return image[pad : pad + size, start : start + size]


@pytest.fixture
def numpy_dtcwt(monkeypatch):
    """dtcwt's numpy transform, with stand-ins for the two numpy functions that numpy 2 removed,
    for the duration of one test only (never inside our package)."""
    import dtcwt

    def asfarray(a, dtype=np.float64):
        dtype = np.dtype(dtype)
        return np.asarray(a, dtype=dtype if np.issubdtype(dtype, np.inexact) else np.float64)

    monkeypatch.setattr(np, "asfarray", asfarray, raising=False)
    monkeypatch.setattr(np, "issubsctype", lambda a, b: np.issubdtype(a, b), raising=False)
    return dtcwt.Transform2d


# --------------------------------------------------------------------------------------------
# The transform
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(64, 64), (63, 65), (50, 70), (37, 41), (9, 13)])
@pytest.mark.parametrize("filters", [("near_sym_b", "qshift_b"), ("near_sym_a", "qshift_a")])
def test_dtcwt_matches_numpy_dtcwt(numpy_dtcwt, shape, filters):
    rng = np.random.default_rng(0)
    images = rng.normal(size=(2, *shape))
    ours = dtcwt_forward(torch.from_numpy(images), levels=4, biort=filters[0], qshift=filters[1])
    transform = numpy_dtcwt(biort=filters[0], qshift=filters[1])
    worst = 0.0
    for b in range(2):
        theirs = transform.forward(images[b], nlevels=4)
        for level, (want, got) in enumerate(zip(theirs.highpasses, ours.highpasses, strict=True)):
            got = got[b].permute(1, 2, 0).numpy()  # [6, h, w] -> dtcwt's [h, w, 6]
            assert got.shape == want.shape, (level, got.shape, want.shape)
            worst = max(worst, np.abs(got - want).max() / np.abs(want).max())
        low = ours.lowpass[b].numpy()
        assert low.shape == theirs.lowpass.shape
        worst = max(worst, np.abs(low - theirs.lowpass).max() / np.abs(theirs.lowpass).max())
    print(f"{shape} {filters}: worst relative difference {worst:.1e}")
    assert worst < 1e-5


def test_dtcwt_float32_matches_numpy_float64(numpy_dtcwt):
    image = _galaxy(96)
    ours = dtcwt_forward(torch.from_numpy(image.astype(np.float32)), levels=3)
    theirs = numpy_dtcwt(biort="near_sym_b", qshift="qshift_b").forward(image, nlevels=3)
    for want, got in zip(theirs.highpasses, ours.highpasses, strict=True):
        relative = np.abs(got[0].permute(1, 2, 0).numpy() - want).max() / np.abs(want).max()
        assert relative < 1e-5
    assert ours.highpasses[0].dtype == torch.complex64


def test_dtcwt_subband_orientations():
    """A horizontal grating (intensity varying along y) excites the 15/165 degree subbands,
    a vertical one the 75/105 degree subbands, as in dtcwt."""
    yy, xx = np.mgrid[:64, :64]
    horizontal = torch.from_numpy(np.cos(2 * np.pi * yy / 4.0))
    vertical = torch.from_numpy(np.cos(2 * np.pi * xx / 4.0))
    energy_h = dtcwt_forward(horizontal, levels=1).highpasses[0].abs().pow(2).mean(dim=(0, 2, 3))
    energy_v = dtcwt_forward(vertical, levels=1).highpasses[0].abs().pow(2).mean(dim=(0, 2, 3))
    assert set(torch.topk(energy_h, 2).indices.tolist()) == {0, 5}
    assert set(torch.topk(energy_v, 2).indices.tolist()) == {2, 3}


# --------------------------------------------------------------------------------------------
# CW-SSIM
# --------------------------------------------------------------------------------------------


def test_cw_ssim_of_an_image_with_itself_is_one():
    image = _galaxy()
    assert cw_ssim(image, image) == pytest.approx(1.0, abs=1e-12)
    batch = torch.from_numpy(np.stack([image, image[::-1]]).astype(np.float32))
    assert torch.allclose(cw_ssim(batch, batch), torch.ones(2), atol=1e-6)


def test_cw_ssim_is_symmetric():
    a = _galaxy(seed=1)
    b = ndimage.gaussian_filter(_galaxy(seed=2), 1.0)
    ab, ba = cw_ssim(a, b), cw_ssim(b, a)
    print(f"cw_ssim(a, b) = {ab:.6f}, cw_ssim(b, a) = {ba:.6f}")
    assert ab == pytest.approx(ba, rel=1e-12)
    assert ab < 0.9


def test_cw_ssim_decreases_as_blur_grows():
    sharp = _galaxy(noise=0.0)
    scores = [cw_ssim(sharp, ndimage.gaussian_filter(sharp, sigma)) for sigma in (0.5, 1, 2, 4)]
    print("CW-SSIM for Gaussian blur sigma 0.5, 1, 2, 4 px:", [round(s, 3) for s in scores])
    assert all(a > b for a, b in zip(scores, scores[1:], strict=False))
    assert scores[0] > 0.98 and scores[-1] < 0.8


@pytest.mark.parametrize("k", [DEFAULT_K, NOISE_K])
def test_small_shift_lowers_cw_ssim_far_less_than_ssim(k):
    reference = _galaxy()
    cw_drops, ssim_drops = [], []
    for shift in (1, 2):
        moved = _galaxy(shift=shift)
        cw_drops.append(1 - cw_ssim(reference, moved, k=k))
        ssim_drops.append(1 - ssim(reference, moved, data_range=1.0))
    print(f"k={k}: 1 px shift: CW-SSIM drop {cw_drops[0]:.3f}, SSIM drop {ssim_drops[0]:.3f}; "
          f"2 px shift: CW-SSIM drop {cw_drops[1]:.3f}, SSIM drop {ssim_drops[1]:.3f}")
    # Measured: 1 px: CW-SSIM 0.023 (k="noise": 0.014) vs SSIM 0.193; 2 px: 0.084 (0.053) vs 0.246.
    assert ssim_drops[0] > 0.15  # SSIM punishes a one-pixel misregistration of a knotty galaxy
    assert cw_drops[0] < 0.2 * ssim_drops[0]
    assert cw_drops[1] < 0.5 * ssim_drops[1]


@pytest.mark.parametrize("k", [DEFAULT_K, NOISE_K])
def test_cw_ssim_nan_pixels_are_excluded_not_spread(k):
    """With k="noise" the noise estimate, too, uses only the clean coefficients."""
    reference = _galaxy(seed=5)
    clean = reference.copy()
    # A defect in the test image only (a hot column segment); NaN-ing it out recovers the score.
    defect = reference.copy()
    defect[70:76, 40:44] += 5.0
    with_nan = reference.copy()
    with_nan[70:76, 40:44] = np.nan
    score_defect = cw_ssim(reference, defect, k=k)
    score_nan = cw_ssim(reference, with_nan, k=k)
    score_masked = cw_ssim(reference, defect, mask=~np.isfinite(with_nan), k=k)
    print(f"defect: {score_defect:.4f}; defect as NaN: {score_nan:.4f}; defect masked: {score_masked:.4f}")
    assert score_defect < 0.9
    assert score_nan > 0.995  # the rest of the image is identical: excluded, not spread
    assert score_masked == pytest.approx(score_nan, abs=1e-3)  # what sits under the mask barely counts
    assert cw_ssim(clean, clean, k=k) == pytest.approx(1.0)
    # One NaN pixel in an otherwise different pair changes the score by little.
    other = ndimage.gaussian_filter(reference, 1.5)
    one_nan = other.copy()
    one_nan[64, 64] = np.nan
    base, holed = cw_ssim(reference, other, k=k), cw_ssim(reference, one_nan, k=k)
    print(f"blurred pair: {base:.4f}; with one NaN pixel: {holed:.4f}")
    assert abs(base - holed) < 0.02


def test_noise_constant_scores_windows_of_sky_noise_about_half():
    """Two frames of independent sky noise: with the tiny constant the score is ~0 and depends on
    the test (0.16 for noise, 0.0001 for a blank, 0.03 for 10x the noise); with k="noise" every
    such test scores about 0.5 (measured 0.570, 0.494, 0.540, 0.502)."""
    rng = np.random.default_rng(0)
    sky, other = rng.normal(size=(2, 128, 128))
    tests = {"independent noise": other, "blank": np.zeros_like(sky),
             "smoothed noise": ndimage.gaussian_filter(other, 2.0), "10x the noise": 10 * other}
    tiny = {name: cw_ssim(sky, test) for name, test in tests.items()}
    noise = {name: cw_ssim(sky, test, k="noise") for name, test in tests.items()}
    print({name: (round(tiny[name], 4), round(noise[name], 3)) for name in tests})
    assert max(tiny.values()) < 0.2 and min(tiny.values()) < 0.01
    for name, score in noise.items():
        assert 0.45 < score < 0.62, name
    assert max(noise.values()) - min(noise.values()) < 0.1


def test_noise_constant_is_symmetric_batched_and_differentiable():
    a = _galaxy(112, seed=1, noise=0.05)
    b = ndimage.gaussian_filter(_galaxy(112, seed=2, noise=0.05), 1.0)
    assert cw_ssim(a, a, k="noise") == pytest.approx(1.0, abs=1e-12)
    ab, ba = cw_ssim(a, b, k="noise"), cw_ssim(b, a, k="noise")
    print(f"k='noise': cw_ssim(a, b) = {ab:.6f}, cw_ssim(b, a) = {ba:.6f}; tiny k: {cw_ssim(a, b):.6f}")
    assert ab == pytest.approx(ba, rel=1e-12)
    assert ab < 0.95
    # Batched: each item's noise is its own (the batch [a, a] vs [b, a] gives the two pair scores).
    batch = cw_ssim(torch.from_numpy(np.stack([a, a])), torch.from_numpy(np.stack([b, a])), k="noise")
    assert batch[0].item() == pytest.approx(ab, rel=1e-12)
    assert batch[1].item() == pytest.approx(1.0)
    # Differentiable (float32, 3 levels on 64 x 64): a small step up the gradient raises the score
    # by what the gradient predicts (the noise estimate itself is held fixed).
    target = torch.from_numpy(_galaxy(64, seed=1, noise=0.05).astype(np.float32))[None]
    output = torch.from_numpy(_galaxy(64, seed=2, noise=0.05).astype(np.float32))[None].requires_grad_(True)
    score = cw_ssim(target, output, levels=3, k="noise").sum()
    score.backward()
    grad = output.grad
    assert torch.isfinite(grad).all() and grad.abs().max() > 0
    step = 1e-3 / grad.abs().max().item()
    with torch.no_grad():
        after = cw_ssim(target, output + step * grad, levels=3, k="noise").item()
    predicted = step * grad.pow(2).sum().item()
    print(f"CW-SSIM {score.item():.5f} -> {after:.5f} (first-order prediction +{predicted:.5f})")
    assert after - score.item() == pytest.approx(predicted, rel=0.3)


def test_k_must_be_a_float_or_noise():
    image = _galaxy(112)
    with pytest.raises(ValueError, match='k must be a float or "noise"'):
        cw_ssim(image, image, k="sky")
    with pytest.raises(ValueError, match="k must be >= 0"):
        cw_ssim(image, image, k=-1.0)


def test_cw_ssim_accepts_batches_and_channel_dims():
    a = _galaxy(112, seed=1)
    b = _galaxy(112, seed=2)
    numpy_pair = cw_ssim(a, b)
    batch = cw_ssim(torch.from_numpy(np.stack([a, a])), torch.from_numpy(np.stack([b, a])))
    assert batch.shape == (2,)
    assert batch[0].item() == pytest.approx(numpy_pair, rel=1e-12)
    assert batch[1].item() == pytest.approx(1.0)
    with_channel = cw_ssim(torch.from_numpy(a)[None, None], torch.from_numpy(b)[None, None])
    assert with_channel.item() == pytest.approx(numpy_pair, rel=1e-12)
    numpy_batch = cw_ssim(np.stack([a, a]), np.stack([b, b]))
    assert isinstance(numpy_batch, np.ndarray) and numpy_batch.shape == (2,)


def test_cw_ssim_gradient_flows():
    """As a training loss (1 - CW-SSIM, float32, 3 levels on 64 x 64 crops)."""
    target = torch.from_numpy(_galaxy(64, seed=1).astype(np.float32))[None]
    output = torch.from_numpy(_galaxy(64, seed=2).astype(np.float32))[None].requires_grad_(True)
    loss = 1 - cw_ssim(target, output, levels=3).mean()
    loss.backward()
    grad = output.grad
    assert torch.isfinite(grad).all()
    assert grad.abs().max() > 0
    # A small step down the loss gradient raises the similarity, as the gradient predicts.
    step = 1e-3 / grad.abs().max().item()
    with torch.no_grad():
        after = cw_ssim(target, output - step * grad, levels=3).item()
    before = 1 - loss.item()
    predicted = step * grad.pow(2).sum().item()
    print(f"CW-SSIM {before:.5f} -> {after:.5f} (first-order prediction +{predicted:.5f})")
    assert after - before == pytest.approx(predicted, rel=0.2)


def test_cw_ssim_region_too_small_is_a_clear_error():
    assert min_size_for_levels(3, 7) == 49
    assert min_size_for_levels(4, 7) == 97  # the default: levels up to 4, 7 x 7 windows
    image = _galaxy(112)[:96, :100]
    with pytest.raises(RegionTooSmallError, match=r"96x100 pixels is too small.*at least 97x97"):
        cw_ssim(image, image)
    assert cw_ssim(image[:49, :49], image[:49, :49], levels=3) == pytest.approx(1.0)


# --------------------------------------------------------------------------------------------
# SSIM and PSNR
# --------------------------------------------------------------------------------------------


def test_ssim_matches_scikit_image():
    from skimage.metrics import structural_similarity

    a = _galaxy(seed=1)
    b = _galaxy(seed=2)
    ours = ssim(a, b, data_range=2.0)
    theirs = structural_similarity(
        a, b, data_range=2.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    print(f"SSIM ours {ours:.6f}, scikit-image {theirs:.6f}")
    assert ours == pytest.approx(theirs, abs=1e-9)
    assert ssim(a, a, data_range=2.0) == pytest.approx(1.0)


def test_ssim_and_psnr_exclude_nan_pixels():
    a = _galaxy(seed=1)
    b = a + 0.05
    b_nan = b.copy()
    b_nan[10:20, 10:20] = np.nan
    b_garbage = b.copy()
    b_garbage[10:20, 10:20] = 1e6
    mask = ~np.isfinite(b_nan)
    assert ssim(a, b_nan, data_range=1.0) == pytest.approx(ssim(a, b_garbage, data_range=1.0, mask=mask), rel=1e-12)
    # PSNR of a constant offset of 0.05 at data range 1: 10 log10(1 / 0.0025) = 26.02 dB
    assert psnr(a, b_nan, data_range=1.0) == pytest.approx(26.0206, abs=1e-3)
    assert psnr(a, a, data_range=1.0) == np.inf


# --------------------------------------------------------------------------------------------
# compare and the score table
# --------------------------------------------------------------------------------------------


def test_compare_units_are_independent_of_flux_scale_and_sky():
    space = _galaxy(seed=4)
    ground = ndimage.gaussian_filter(space, 3.0)
    scores = compare(space, ground)
    # The same pair in other units (x 1000 counts) and on another sky level scores the same.
    scaled = compare(space * 1000 + 50, ground * 1000 + 70)
    for key in ("cw_ssim", "ssim", "psnr"):
        assert scaled[key] == pytest.approx(scores[key], rel=1e-6)
    assert compare(space, space)["cw_ssim"] == pytest.approx(1.0)
    assert scores["cw_ssim"] < 0.9
    norm = normalisation(space * 1000 + 50)
    assert norm.reference_sky == pytest.approx(50, abs=20)


def test_score_table_reports_change_against_the_first_test():
    space = _galaxy(seed=4)
    ground = ndimage.gaussian_filter(space, 3.0)
    better = ndimage.gaussian_filter(space, 1.0)
    rows = score_table(space, {"ground": ground, "deblurred": better, "space": space})
    assert [row["name"] for row in rows] == ["ground", "deblurred", "space"]
    assert rows[0]["cw_ssim_change_percent"] == 0.0
    expected = 100 * (rows[1]["cw_ssim"] - rows[0]["cw_ssim"]) / rows[0]["cw_ssim"]
    assert rows[1]["cw_ssim_change_percent"] == pytest.approx(expected)
    assert rows[1]["cw_ssim_change_percent"] > 10
    assert rows[2]["cw_ssim"] == pytest.approx(1.0)
    assert percent_change(0.622, 0.560) == pytest.approx(11.07, abs=0.01)  # the paper's Table 1 means


@pytest.fixture(scope="module")
def simulated_pair_on_space_grid():
    from seeinggan.geometry import resample_to_grid
    from seeinggan.simulate import simulate_pair

    pair = simulate_pair(seed=3)  # a spiral, seeing 1.13", HST-like noise, 256 x 256 at 0.03"/px
    ground = resample_to_grid(pair.ground, pair.ground_wcs, pair.space_wcs, pair.space.shape, conserve="flux")
    return pair, ground


def test_compare_scores_a_noisy_pair_by_structure_not_sky(simulated_pair_on_space_grid):
    """The simulated ground/space pair (flux units, sky noise in both): with the tiny constant the
    sky made the ground score 0.016; compare's noise-relative constant gives 0.40, and more blur
    still scores lower (measured: space blurred by 1 px 0.93, by 3 px 0.68, ground 0.40)."""
    pair, ground = simulated_pair_on_space_grid
    space = pair.space
    tests = {"space": space, "blur 1 px": ndimage.gaussian_filter(space, 1.0),
             "blur 3 px": ndimage.gaussian_filter(space, 3.0), "ground": ground}
    scores = {name: compare(space, test)["cw_ssim"] for name, test in tests.items()}
    norm = normalisation(space)
    tiny = cw_ssim(norm.apply(space), norm.apply(ground), data_range=1.0)
    print({name: round(value, 3) for name, value in scores.items()}, f"tiny K, ground: {tiny:.3f}")
    assert tiny < 0.05
    assert 0.3 < scores["ground"] < 0.6
    assert scores["space"] == pytest.approx(1.0)
    assert scores["space"] > scores["blur 1 px"] > scores["blur 3 px"] > scores["ground"] + 0.15


def test_compare_keeps_shift_tolerance_on_a_noisy_pair(simulated_pair_on_space_grid):
    """The space image and the same image moved by 1-2 px (its noise moves with it)."""
    space = simulated_pair_on_space_grid[0].space
    for shift in (1, 2):
        moved = np.roll(space, shift, axis=1)
        scores = compare(space, moved)
        cw_drop, ssim_drop = 1 - scores["cw_ssim"], 1 - scores["ssim"]
        print(f"{shift} px: CW-SSIM drop {cw_drop:.3f}, SSIM drop {ssim_drop:.3f}")
        assert cw_drop < 0.1 * ssim_drop


def test_compare_rejects_a_blank_reference():
    with pytest.raises(ValueError, match="no signal above its sky"):
        compare(np.zeros((64, 64)), np.ones((64, 64)))
