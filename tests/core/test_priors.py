"""Simulator extensions and the training priors: elliptical PSFs, drizzle noise, peak S/N, S0s,
the broad prior as data, and simulated `Pair`s that carry the noiseless truth."""

from __future__ import annotations

import numpy as np
import pytest
from seeinggan.data import folder_pairs, simulated_pairs
from seeinggan.data.simulated import simulate_one
from seeinggan.simulate import (
    kolmogorov_psf,
    moffat_psf,
    pair_seed,
    simulate_field,
    simulate_pair,
    write_pairs,
)
from seeinggan.simulate.canvas import Canvas
from seeinggan.simulate.galaxies import _sersic
from seeinggan.simulate.observe import drizzle_kernel
from seeinggan.simulate.priors import (
    EVALUATION_SEEDS,
    PRIORS,
    SCENES,
    Choice,
    IntUniform,
    LogUniform,
    Prior,
    Scene,
    Uniform,
    draw_settings,
    simulate_from_prior,
)


def _fingerprint(array: np.ndarray) -> list[float]:
    """Sums that change with any pixel (a checksum that tolerates last-bit float differences)."""
    a = np.asarray(array, dtype=np.float64)
    y, x = np.indices(a.shape)
    return [float(a.sum()), float((a * a).sum()), float((a * x).sum()), float((a * y).sum()),
            float(a[a.shape[0] // 2, a.shape[1] // 2])]


def _axis_ratio_and_angle(image: np.ndarray) -> tuple[float, float]:
    y, x = np.indices(image.shape)
    total = image.sum()
    cx, cy = (image * x).sum() / total, (image * y).sum() / total
    xx = (image * (x - cx) ** 2).sum() / total
    yy = (image * (y - cy) ** 2).sum() / total
    xy = (image * (x - cx) * (y - cy)).sum() / total
    values, vectors = np.linalg.eigh([[xx, xy], [xy, yy]])
    angle = float(np.degrees(np.arctan2(vectors[1, 1], vectors[0, 1])) % 180.0)
    return float(np.sqrt(values[0] / values[1])), angle


# ---------------------------------------------------------------------------------------------
# the default simulator is unchanged
# ---------------------------------------------------------------------------------------------


def test_default_pair_is_the_one_made_before_the_extensions():
    # Figures of simulate_pair(seed=0) taken before the new keywords existed (arrays were
    # bit-identical then; the fingerprint tolerates last-bit FFT differences between machines).
    pair = simulate_pair(seed=0)
    expected = {
        "truth": [22951.348931903227, 666772.5540820584, 3531215.3482124167, 2495009.0911577493,
                  4.019055366516113],
        "ground": [21109.604946594685, 1424488.924801507, 441720.0340137519, 352643.8833069212,
                   142.3580780029297],
        "space": [23045.095895554743, 674324.6475952622, 3537290.6203805944, 2513547.927238088,
                  4.485892295837402],
    }
    for name, figures in expected.items():
        np.testing.assert_allclose(_fingerprint(getattr(pair, name)), figures, rtol=1e-6)
    assert pair.params["psf_ellipticity"] == 0.0 and pair.params["space_noise"] == "white"
    assert "PSFELL" not in pair.ground_header and "NOISECOR" not in pair.space_header


# ---------------------------------------------------------------------------------------------
# elliptical PSFs
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["moffat", "kolmogorov"])
def test_elliptical_psf_images_have_the_asked_axis_ratio_and_angle(kind):
    make = moffat_psf if kind == "moffat" else kolmogorov_psf
    extra = {"beta": 4.0} if kind == "moffat" else {}
    image = make(fwhm=1.0, pixel_scale=0.05, shape=(301, 301), ellipticity=0.1, angle=30.0, **extra)
    ratio, angle = _axis_ratio_and_angle(image)
    assert image.sum() == pytest.approx(1.0)
    assert ratio == pytest.approx(0.9 / 1.1, abs=0.02)
    assert angle == pytest.approx(30.0, abs=1.0)
    round_image = make(fwhm=1.0, pixel_scale=0.05, shape=(301, 301), **extra)
    assert _axis_ratio_and_angle(round_image)[0] == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("kind", ["moffat", "kolmogorov"])
def test_a_simulated_star_through_an_elliptical_psf_is_elongated_as_asked(kind):
    pair = simulate_pair(seed=3, morphology="star", noise=False, psf=kind, moffat_beta=4.0,
                         seeing_fwhm=1.0, psf_ellipticity=0.1, psf_angle=120.0,
                         ground_pixel_scale=0.1, field_star_rate=0)
    ratio, angle = _axis_ratio_and_angle(pair.ground_noiseless)
    assert ratio == pytest.approx(0.9 / 1.1, abs=0.025)
    assert angle == pytest.approx(120.0, abs=1.0)
    assert pair.ground_header["PSFELL"] == 0.1 and pair.ground_header["PSFANGLE"] == 120.0
    # Flux is kept by the shear (area preserving).
    assert pair.ground_noiseless.sum() == pytest.approx(pair.truth.sum(), rel=0.01)


def test_psf_angle_is_drawn_from_the_seed_when_not_given():
    a = simulate_pair(seed=11, space_shape=(64, 64), psf_ellipticity=0.05)
    b = simulate_pair(seed=11, space_shape=(64, 64), psf_ellipticity=0.05)
    c = simulate_pair(seed=12, space_shape=(64, 64), psf_ellipticity=0.05)
    assert 0.0 <= a.params["psf_angle"] < 180.0
    assert a.params["psf_angle"] == b.params["psf_angle"] != c.params["psf_angle"]
    with pytest.raises(ValueError, match="psf_ellipticity"):
        simulate_pair(seed=1, psf_ellipticity=1.5)


# ---------------------------------------------------------------------------------------------
# drizzle-correlated space noise, peak S/N, S0s and big smooth galaxies
# ---------------------------------------------------------------------------------------------


def _lag_correlation(image: np.ndarray) -> float:
    a = image - image.mean()
    return float((a[:, 1:] * a[:, :-1]).mean() / a.var())


def test_drizzle_noise_keeps_the_stated_rms_and_correlates_neighbours():
    kernel = drizzle_kernel()
    assert kernel.sum() == pytest.approx(1.0) and kernel.shape == (3, 3)
    # One star at the centre (a scene must hold light); the stamp's corner is blank sky.
    kwargs = {"seed": 5, "morphology": "star", "space_shape": (256, 256), "field_star_rate": 0}
    white = simulate_pair(**kwargs)
    drizzled = simulate_pair(**kwargs, space_noise="drizzle")
    sky_noise = white.params["space_sky_noise"]
    corner = (slice(0, 96), slice(0, 96))  # away from the star at the centre
    for pair in (white, drizzled):
        assert np.std(pair.space[corner]) == pytest.approx(sky_noise, rel=0.05)
    assert abs(_lag_correlation(white.space[corner])) < 0.03
    # Expected lag-1 correlation of the separable kernel [1/6, 2/3, 1/6]: 4/9 per axis.
    assert _lag_correlation(drizzled.space[corner]) == pytest.approx(4 / 9, abs=0.05)
    assert drizzled.space_header["NOISECOR"] == "drizzle"
    assert np.array_equal(white.truth, drizzled.truth)
    assert np.array_equal(white.ground, drizzled.ground)


def test_peak_snr_scales_the_scene_and_its_recorded_flux():
    base = simulate_pair(seed=8, morphology="elliptical", noise=False, field_star_rate=0)
    scaled = simulate_pair(seed=8, morphology="elliptical", noise=False, field_star_rate=0,
                           peak_snr=5000.0)
    peak = scaled.ground_noiseless.max() / scaled.params["ground_sky_noise"]
    assert peak == pytest.approx(5000.0, rel=1e-5)
    scale = scaled.params["flux_scale"]
    np.testing.assert_allclose(scaled.truth, base.truth * scale, rtol=1e-5, atol=1e-6 * scale)
    assert scaled.params["flux"] == pytest.approx(base.params["flux"] * scale)
    assert scaled.params["mag"] == pytest.approx(base.params["mag"] - 2.5 * np.log10(scale))


@pytest.mark.parametrize(("n", "r_e"), [(6.0, 0.05), (8.0, 0.05), (8.0, 0.3)])
def test_steep_sersic_cusps_keep_their_flux_on_the_pixels(n, r_e):
    # Sersic n up to 8 (bright smooth suite): plain supersampling put 40% too much light in an
    # n = 8, r_e = 0.3" galaxy centred on a pixel; the exact core keeps the total within 0.2%.
    for offset in (0.0, 0.011):
        profile = _sersic("bulge", 1000.0, offset, -offset, n, r_e, 0.7, 25.0)
        assert profile.exact_core
        side = int(2 * profile.r_max / 0.03) + 25
        canvas = Canvas((side | 1, side | 1), 0.03)
        canvas.add_profile(profile)
        assert canvas.image.sum() == pytest.approx(1000.0, rel=0.002), (n, r_e, offset)
        assert canvas.image.min() >= 0.0
        assert np.unravel_index(canvas.image.argmax(), canvas.image.shape) == (side // 2,) * 2


@pytest.mark.parametrize("morphology", ["elliptical", "s0"])
def test_steep_sersic_galaxies_have_the_same_flux_from_ground_and_space(morphology):
    pair = simulate_pair(seed=21, morphology=morphology, noise=False, field_star_rate=0,
                         sersic_n_range=(7.5, 8.0), galaxy_r_e_range=(0.2, 0.25),
                         space_shape=(384, 384))
    assert 7.5 <= pair.params["sersic_n"] <= 8.0
    # n = 8 holds ~10% of its light beyond 12 r_e; the 11.5" stamp sees most of the rest.
    assert 0.85 * pair.params["flux"] < pair.truth.sum() <= 1.001 * pair.params["flux"]
    assert pair.ground_noiseless.sum() == pytest.approx(pair.truth.sum(), rel=0.01)


def test_a_galaxy_filled_stamp_has_no_blank_sky_but_its_header_holds_sky_and_noise():
    pair = simulate_pair(seed=31, morphology="s0", galaxy_r_e_range=(8.0, 8.0), peak_snr=300.0,
                         canvas_margin=4.0, field_star_rate=0)
    ground = pair.ground_noiseless
    assert ground.min() > 5 * pair.params["ground_sky_noise"]  # galaxy light everywhere
    header = pair.ground_header
    assert header["SKYLEVEL"] == pytest.approx(pair.params["ground_sky_level"])
    assert header["SKYNOISE"] == pytest.approx(pair.params["ground_sky_noise"], rel=1e-4)


def test_field_has_its_noiseless_truth_and_the_new_options():
    field = simulate_field(seed=2, space_shape=(128, 128), n_galaxies=6, n_stars=2,
                           galaxy_mag_range=(24.0, 25.0), galaxy_r_e_range=(0.1, 0.3),
                           star_mag_range=(20.0, 21.0), psf_ellipticity=0.05,
                           space_noise="drizzle")
    assert field.truth.shape == field.space.shape == (128, 128)
    galaxies = [o for o in field.params["objects"] if o["class"] != "star"]
    stars = [o for o in field.params["objects"] if o["class"] == "star"]
    assert len(galaxies) == 6 and len(stars) == 2
    assert all(24.0 <= g["mag"] <= 25.0 and 0.1 <= g["r_e"] <= 0.3 for g in galaxies)
    assert all(20.0 <= s["mag"] <= 21.0 for s in stars)
    residual = field.space - field.truth  # source Poisson noise on top of the sky's: robust rms
    robust = 1.4826 * np.median(np.abs(residual - np.median(residual)))
    assert robust == pytest.approx(field.params["space_sky_noise"], rel=0.1)


# ---------------------------------------------------------------------------------------------
# priors as data
# ---------------------------------------------------------------------------------------------


def test_distributions_draw_inside_their_bounds():
    rng = np.random.default_rng(0)
    assert all(2.0 <= Uniform(2.0, 5.0).draw(rng) <= 5.0 for _ in range(100))
    values = [LogUniform(30.0, 1e4).draw(rng) for _ in range(2000)]
    assert 30.0 <= min(values) and max(values) <= 1e4
    assert np.median(np.log10(values)) == pytest.approx((np.log10(30) + 4) / 2, abs=0.1)
    assert {IntUniform(1, 3).draw(rng) for _ in range(100)} == {1, 2, 3}
    nested = Choice((0.0, Uniform(0.5, 0.6)), (0.5, 0.5))
    drawn = [nested.draw(rng) for _ in range(200)]
    assert 60 < sum(d == 0.0 for d in drawn) < 140
    assert all(d == 0.0 or 0.5 <= d <= 0.6 for d in drawn)


def test_broad_prior_settings_are_pinned_to_the_seed():
    first = [draw_settings("broad", seed=1, index=i) for i in range(4)]
    assert first == [draw_settings("broad", seed=1, index=i) for i in range(4)]
    assert [s["scene"] for s in first] == ["deep_field", "galaxies", "galaxies", "cutout"]
    assert [s["ground_pixel_scale"] for s in first[:3]] == [0.333, 0.396, 0.396]
    assert first[0]["seeing_fwhm"] == pytest.approx(1.090905258389858, rel=1e-12)
    assert first[3]["fill_snr"] == pytest.approx(18.144463490755676, rel=1e-12)
    assert first[2]["psf_ellipticity"] == pytest.approx(0.04399778129175627, rel=1e-12)
    assert draw_settings("broad", seed=2, index=0) != first[0]


def test_broad_prior_spans_the_stress_axes():
    drawn = [draw_settings("broad", seed=3, index=i) for i in range(600)]
    scales = [d["ground_pixel_scale"] for d in drawn]
    seeing = [d["seeing_fwhm"] for d in drawn]
    assert min(scales) < 0.17 and max(scales) > 0.5
    assert {0.168, 0.202, 0.263, 0.333, 0.396} <= set(scales)
    assert min(seeing) < 0.45 and max(seeing) > 1.55
    assert {d["psf"] for d in drawn} == {"moffat", "kolmogorov"}
    betas = [d["moffat_beta"] for d in drawn]
    assert min(betas) < 2.1 and max(betas) > 4.9
    ellipticities = [d["psf_ellipticity"] for d in drawn]
    assert 0.3 < np.mean([e == 0 for e in ellipticities]) < 0.5 and max(ellipticities) > 0.09
    assert {d["space_noise"] for d in drawn} == {"white", "drizzle"}
    scenes = [d["scene"] for d in drawn]
    assert set(scenes) == set(SCENES)
    snr = [d["peak_snr"] for d in drawn if d["scene"] == "bright_smooth"]
    assert max(snr) > 3000 and min(snr) < 100
    assert {d["kind"] for d in drawn if d["scene"] == "deep_field"} == {"field"}


def test_simulate_from_prior_uses_the_stream_seed_and_overrides():
    pair = simulate_from_prior("broad", seed=1, index=1, space_shape=(64, 64))
    assert pair.params["seed"] == pair_seed(1, 1)
    assert pair.truth.shape == (64, 64)
    assert pair.params["scene"] == "galaxies" and pair.params["prior"] == "broad"
    assert pair.params["psf_model"] == "kolmogorov"
    assert pair.params["ground_pixel_scale"] == 0.396
    with pytest.raises(ValueError, match="unknown simulator setting"):
        simulate_from_prior("broad", seed=1, index=1, seeing=0.7)
    with pytest.raises(ValueError, match="unknown prior"):
        draw_settings("nonesuch", seed=1, index=0)


def test_default_prior_stream_is_the_written_folder(tmp_path):
    write_pairs(tmp_path, n=1, seed=4, space_shape=(64, 64))
    from_prior = simulate_from_prior("default", seed=4, index=0, space_shape=(64, 64))
    folder = folder_pairs(tmp_path)[0]
    assert from_prior.params["seed"] == int(folder.meta["seed"])
    direct = simulate_pair(seed=pair_seed(4, 0), space_shape=(64, 64))
    assert np.array_equal(from_prior.ground, direct.ground)
    assert folder.truth is None  # pairs read from files have no truth unless given


def test_a_custom_prior_is_data():
    prior = Prior("tiny", "a test prior", common={"space_shape": (64, 64),
                                                   "seeing_fwhm": Choice((0.6, 0.9))},
                  scenes=((1.0, Scene("stars", "one star", {"morphology": "star"})),))
    pair = simulate_from_prior(prior, seed=5, index=0)
    assert pair.params["class"] == "star" and pair.params["seeing_fwhm"] in (0.6, 0.9)
    rows = prior.settings_table()
    assert {"scene": "(all)", "weight": "", "setting": "seeing_fwhm",
            "value": "one of 0.6 (50%), 0.9 (50%)"} in rows


# ---------------------------------------------------------------------------------------------
# training pairs carry the truth and the observing conditions
# ---------------------------------------------------------------------------------------------


def test_broad_training_pairs_carry_truth_and_observing_meta():
    pairs = simulated_pairs(n=3, seed=1, prior="broad", space_shape=(96, 96))
    for index in (1, 2):
        pair = pairs[index]
        settings = draw_settings("broad", seed=1, index=index)
        assert pair.truth is not None and pair.truth.dtype == np.float32
        assert pair.truth.shape == pair.space.shape == (96, 96)
        meta = pair.meta
        assert meta["seeing_fwhm"] == pytest.approx(settings["seeing_fwhm"])
        assert meta["psf_model"] == settings["psf"]
        assert meta["ground_pixel_scale"] == pytest.approx(settings["ground_pixel_scale"], rel=1e-6)
        assert meta["psf_ellipticity"] == settings["psf_ellipticity"]
        assert meta["space_noise"] == settings["space_noise"]
        assert meta["scene"] == settings["scene"] and meta["prior"] == "broad"
        assert meta["ground_sky_noise"] > 0 and meta["ground_sky_level"] > 0
        # The truth is the space image without its noise.
        faint = pair.truth < 0.2 * meta["space_sky_noise"]  # where sky noise dominates
        assert faint.sum() > 500
        residual = (pair.space - pair.truth)[faint]
        assert np.std(residual) == pytest.approx(meta["space_sky_noise"], rel=0.1)
    # The same as the default stream without a prior: truth is always there.
    plain = simulate_one(7, 0, {"space_shape": (64, 64)})
    assert plain.truth is not None and plain.meta["psf_model"] in ("moffat", "kolmogorov")


def test_training_streams_refuse_the_evaluation_seeds():
    for name, seed in EVALUATION_SEEDS.items():
        with pytest.raises(ValueError, match=name):
            simulated_pairs(n=1, seed=seed, prior="broad")
    # The training streams' simulator seeds never meet an evaluation set's.
    training = {pair_seed(s, i) for s in range(4) for i in range(3000)}
    evaluation = {pair_seed(s, i) for s in EVALUATION_SEEDS.values() for i in range(400)}
    assert not training & evaluation


def test_named_priors():
    assert set(PRIORS) >= {"default", "broad"}
    assert all(PRIORS[name].name == name for name in PRIORS)


def test_prior_ranges_give_the_training_ranges_a_model_records():
    ranges = PRIORS["broad"].ranges()
    assert ranges["seeing_fwhm"] == (0.4, 1.6)
    assert ranges["ground_pixel_scale"] == (0.15, 0.6)
    assert ranges["moffat_beta"] == (2.0, 5.0)
    assert ranges["psf_ellipticity"] == (0.0, 0.1)
    assert ranges["peak_snr"] == (30.0, 1.0e4)
    assert ranges["psf"] == ["moffat", "kolmogorov"]
    assert ranges["space_noise"] == ["white", "drizzle"]


def test_cli_writes_pairs_from_a_prior(tmp_path):
    import argparse
    import csv

    from seeinggan.cli import CliError
    from seeinggan.cli import simulate as simulate_cli

    def cli(argv):
        parser = argparse.ArgumentParser()
        simulate_cli.add_parser(parser.add_subparsers(dest="command"))
        args = parser.parse_args(argv)
        return args.run(args)

    out = tmp_path / "broad"
    assert cli(["simulate", "--prior", "broad", "-n", "2", "--seed", "1", "--size", "64",
                "--truth", "-o", str(out)]) == 0
    with open(out / "catalogue.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["seed"]) for r in rows] == [pair_seed(1, 0), pair_seed(1, 1)]
    assert [r["scene"] for r in rows] == ["deep_field", "galaxies"]
    assert float(rows[1]["ground_pixel_scale"]) == 0.396
    assert (out / "truth" / "sim_00001.fits").exists()
    with pytest.raises(CliError, match="heldout"):
        cli(["simulate", "--prior", "broad", "-n", "1", "--seed", "1000", "-o", str(tmp_path / "x")])


def test_ground_stamps_cover_every_space_pixel_at_any_pixel_scale():
    from seeinggan.data.simulated import pair_from_simulation
    from seeinggan.simulate import ground_shape_for
    from seeinggan.simulate.priors import GROUND_PIXEL_SCALES

    for scale in (*GROUND_PIXEL_SCALES.values(), 0.15, 0.6, 0.37):
        for n in (64, 96, 256):
            side = ground_shape_for((n, n), 0.03, scale)[0]
            assert side * scale >= (n - 1) * 0.03, (scale, n)
            assert abs(side * scale - n * 0.03) < scale, (scale, n)
    # The standard stamps keep their shapes (256 -> 38 at 0.202"/px; a 1024 field -> 152).
    assert ground_shape_for((256, 256), 0.03, 0.202) == (38, 38)
    assert ground_shape_for((1024, 1024), 0.03, 0.202) == (152, 152)
    sim = simulate_pair(seed=2, space_shape=(256, 256), ground_pixel_scale=0.396)
    assert sim.ground.shape == (20, 20)  # round() alone gave 19: a 0.08" strip uncovered
    assert pair_from_simulation(sim, name="x").mask.all()
