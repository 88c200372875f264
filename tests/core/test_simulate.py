"""The galaxy simulator: flux, PSFs, determinism, geometry, files and the CLI."""

from __future__ import annotations

import argparse
import csv
import json

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from seeinggan.cli import CliError
from seeinggan.cli import simulate as simulate_cli
from seeinggan.io.fits import read_image
from seeinggan.progress import Cancelled
from seeinggan.simulate import (
    GROUND,
    MORPHOLOGIES,
    SPACE,
    SPACE_PSF_FWHM,
    kolmogorov_psf,
    measure_fwhm,
    moffat_psf,
    pair_seed,
    simulate_field,
    simulate_pair,
    space_psf,
    write_pairs,
)
from seeinggan.simulate.canvas import Canvas
from seeinggan.simulate.galaxies import _sersic, draw_galaxy
from seeinggan.simulate.morphologies import GALAXY_WEIGHTS, MORPHOLOGY_PRIORS


def _direct_fwhm(image: np.ndarray, pixel_scale: float) -> float:
    """FWHM from the row through the peak of a finely sampled, centred, symmetric PSF."""
    row = image[image.shape[0] // 2]
    x = (np.arange(row.size) - (row.size - 1) / 2.0) * pixel_scale
    half = row.max() / 2.0
    right_x, right = x[x >= 0], row[x >= 0]
    i = int(np.argmax(right < half))
    return 2.0 * float(np.interp(half, [right[i], right[i - 1]], [right_x[i], right_x[i - 1]]))


def _centroid_sky(image, wcs):
    ys, xs = np.indices(image.shape)
    total = image.sum(dtype=np.float64)
    col, row = (image * xs).sum() / total, (image * ys).sum() / total
    return wcs.pixel_to_world(col, row)


# ---------------------------------------------------------------------------------------------
# flux
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("morphology", [m for m in MORPHOLOGIES])
def test_every_class_renders_and_ground_keeps_the_flux_of_truth(morphology):
    for seed in (1, 2):
        pair = simulate_pair(seed=seed, morphology=morphology, noise=False, field_star_rate=0)
        assert pair.params["class"] == morphology
        truth = pair.truth.sum(dtype=np.float64)
        ground = pair.ground_noiseless.sum(dtype=np.float64)
        assert np.isfinite(pair.truth).all() and np.isfinite(pair.ground_noiseless).all()
        assert truth > 0 and ground > 0
        # Same flux scale: the galaxy's counts agree within 1% (seeing moves a little light
        # out of the footprint, which is the only difference).
        assert abs(ground / truth - 1.0) < 0.01, (morphology, seed, ground / truth)
        # The stamp holds most of the model's light, and never more than all of it.
        assert 0.8 * pair.params["flux"] < truth < 1.001 * pair.params["flux"]


def test_a_compact_galaxy_has_all_its_model_flux_in_both_images():
    pair = simulate_pair(seed=4, morphology="disk", noise=False, field_star_rate=0,
                         space_shape=(384, 384), seeing_fwhm=0.7, psf="moffat", moffat_beta=4.0)
    flux = pair.params["flux"]
    assert pair.params["r_e"] < 1.0
    assert pair.truth.sum(dtype=np.float64) == pytest.approx(flux, rel=0.003)
    assert pair.ground_noiseless.sum(dtype=np.float64) == pytest.approx(flux, rel=0.005)


def test_sersic_cusp_is_integrated_over_pixels():
    # A tiny n = 4 bulge (r_e = 3 pixels) off the pixel centre: nested supersampling keeps flux.
    canvas = Canvas((400, 400), 0.03)
    canvas.add_profile(_sersic("bulge", 1000.0, 0.011, -0.007, 4.0, 0.09, 0.7, 30.0))
    assert canvas.image.sum() == pytest.approx(1000.0, rel=0.003)
    # Sampling the same profile at pixel centres alone would get it wrong by far more.
    point = _sersic("bulge", 1000.0, 0.011, -0.007, 4.0, 0.09, 0.7, 30.0)
    xs = (np.arange(400) - 199.5) * 0.03
    sampled = point.evaluate(xs[None, :], xs[:, None]).sum() * 0.03**2
    assert abs(sampled / 1000.0 - 1.0) > 0.01


def test_spiral_arms_and_clumps_keep_the_flux():
    rng = np.random.default_rng(3)
    galaxy = draw_galaxy(rng, "barred-spiral")
    canvas = Canvas((800, 800), 0.03)
    canvas.add_galaxy(galaxy)
    assert canvas.image.sum() == pytest.approx(galaxy.flux, rel=0.003)
    disk = galaxy.profiles[0]
    assert disk.modulation is not None
    plain = Canvas((800, 800), 0.03)
    disk_only = Canvas((800, 800), 0.03)
    disk_only.add_profile(disk)
    disk.modulation, saved = None, disk.modulation
    plain.add_profile(disk)
    disk.modulation = saved
    assert disk_only.image.sum() == pytest.approx(plain.image.sum(), rel=1e-3)
    # ...while the arms do change the picture: a strong azimuthal pattern.
    assert np.abs(disk_only.image - plain.image).max() > 0.3 * plain.image.max() / 10


def test_noise_is_unbiased_and_has_the_instruments_level():
    pair = simulate_pair(seed=11, morphology="disk", field_star_rate=0)
    for noisy, clean, instrument in ((pair.space, pair.truth, SPACE),
                                     (pair.ground, pair.ground_noiseless, GROUND)):
        residual = noisy.astype(np.float64) - clean
        n = residual.size
        expected_var = instrument.sky_noise() ** 2 + np.clip(clean, 0, None) / instrument.gain
        # In expectation after noise: the total counts are unbiased (5 sigma).
        assert abs(residual.sum()) < 5.0 * np.sqrt(expected_var.sum())
        assert residual.var() == pytest.approx(expected_var.mean(), rel=0.1 if n > 5000 else 0.35)
    assert pair.params["space_sky_noise"] == pytest.approx(SPACE.sky_noise())
    assert pair.space_header["SKYLEVEL"] == SPACE.sky
    assert pair.ground_header["GAIN"] == GROUND.gain


# ---------------------------------------------------------------------------------------------
# PSFs
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("psf", ["moffat", "kolmogorov"])
@pytest.mark.parametrize("fwhm", [0.6, 1.1])
def test_a_simulated_star_has_the_requested_seeing(psf, fwhm):
    pair = simulate_pair(seed=21, morphology="star", psf=psf, seeing_fwhm=fwhm, noise=False,
                         field_star_rate=0, moffat_beta=3.0)
    measured = measure_fwhm(pair.ground_noiseless, pixel_scale=0.202)
    print(f"{psf} seeing {fwhm}: measured FWHM {measured['fwhm']:.4f} (beta {measured['beta']:.2f})")
    assert measured["fwhm"] == pytest.approx(fwhm, rel=0.05)
    assert pair.ground_header["SEEING"] == pytest.approx(fwhm)
    # The fit lands where the star is: the centre of the ground stamp plus its offset.
    col, row = pair.ground_wcs.world_to_pixel(SkyCoord(pair.params["ra"], pair.params["dec"],
                                                       unit="deg"))
    assert measured["x"] == pytest.approx(float(col), abs=0.05)
    assert measured["y"] == pytest.approx(float(row), abs=0.05)


def test_psf_images_have_their_fwhm_and_unit_sum():
    for image, fwhm in (
        (moffat_psf(fwhm=0.8, beta=3.0, pixel_scale=0.01, shape=(401, 401)), 0.8),
        (kolmogorov_psf(fwhm=0.8, pixel_scale=0.01, shape=(401, 401)), 0.8),
    ):
        assert image.sum() == pytest.approx(1.0)
        assert _direct_fwhm(image, 0.01) == pytest.approx(fwhm, rel=0.01)
    hst = space_psf(pixel_scale=0.005, shape=(301, 301))
    assert hst.sum() == pytest.approx(1.0)
    hst_fwhm = _direct_fwhm(hst, 0.005)
    assert 0.09 <= hst_fwhm <= 0.10
    assert hst_fwhm == pytest.approx(SPACE_PSF_FWHM, rel=0.03)
    # Faint wings: the Airy rings hold a few per cent of the light beyond 0.2".
    r = np.hypot(*np.indices(hst.shape) - 150.0) * 0.005
    assert 0.01 < hst[r > 0.2].sum() < 0.1


def test_space_star_is_sharp_and_ground_star_is_not():
    pair = simulate_pair(seed=4, morphology="star", seeing_fwhm=0.9, noise=False,
                         field_star_rate=0)
    cut = pair.truth[96:160, 96:160]
    assert measure_fwhm(cut, pixel_scale=0.03)["fwhm"] < 0.11
    assert pair.truth.max() > 50 * pair.ground_noiseless.max() / (0.202 / 0.03) ** 2


# ---------------------------------------------------------------------------------------------
# determinism
# ---------------------------------------------------------------------------------------------


def test_same_seed_same_images_different_seed_different_images():
    a = simulate_pair(seed=123)
    b = simulate_pair(seed=123)
    c = simulate_pair(seed=124)
    for name in ("ground", "space", "truth", "ground_noiseless"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert json.dumps(a.params, sort_keys=True, default=str) == json.dumps(
        b.params, sort_keys=True, default=str)
    assert a.ground_header.tostring() == b.ground_header.tostring()
    assert not np.array_equal(a.space, c.space)
    assert a.params["seeing_fwhm"] != c.params["seeing_fwhm"]


def test_the_noise_differs_between_seeds_of_the_same_scene_parameters():
    # Fixing everything that can be fixed still leaves seed-dependent noise and galaxies.
    a = simulate_pair(seed=1, morphology="disk", seeing_fwhm=0.8, psf="kolmogorov")
    b = simulate_pair(seed=2, morphology="disk", seeing_fwhm=0.8, psf="kolmogorov")
    assert not np.array_equal(a.ground, b.ground)


@pytest.mark.parametrize(("morphology", "key", "param"), [
    ("elliptical", "axis_ratio", "axis_ratio"),
    ("spiral", "pitch_angle", "pitch_angle"),
    ("barred-spiral", "bar_axis_ratio", "bar_axis_ratio"),
    ("irregular", "clump_fraction", "clump_fraction"),
    ("merger", "separation", "separation"),
])
def test_the_morphology_table_sets_what_is_drawn(monkeypatch, morphology, key, param):
    # The priors are data: narrowing an entry of the table to one value pins the drawn parameter.
    table = MORPHOLOGY_PRIORS["spiral" if "spiral" in morphology else morphology]
    assert table[key][0] < table[key][1]
    monkeypatch.setitem(table, key, (0.4321, 0.4321))
    for seed in range(3):
        assert draw_galaxy(np.random.default_rng(seed), morphology).params[param] == 0.4321


def test_the_morphology_table_covers_every_class_and_its_ranges_are_ordered():
    assert set(MORPHOLOGY_PRIORS) == set(MORPHOLOGIES) - {"star", "barred-spiral"}
    assert set(GALAXY_WEIGHTS) <= set(MORPHOLOGIES)
    assert sum(GALAXY_WEIGHTS.values()) == pytest.approx(1.0)
    for name, table in MORPHOLOGY_PRIORS.items():
        for key, value in table.items():
            if isinstance(value, tuple) and all(isinstance(v, (int, float)) for v in value):
                assert value[0] <= value[1], (name, key)
            elif isinstance(value, tuple):  # (values, weights)
                assert len(value[0]) == len(value[1]) and sum(value[1]) == pytest.approx(1.0), (name, key)


def test_a_random_mix_has_every_galaxy_class():
    seen = {simulate_pair(seed=s, space_shape=(64, 64)).params["class"] for s in range(60)}
    assert seen == set(MORPHOLOGIES) - {"star", "s0"}  # S0s only when asked for


# ---------------------------------------------------------------------------------------------
# geometry
# ---------------------------------------------------------------------------------------------


def test_wcs_centres_and_footprints_agree():
    pair = simulate_pair(seed=8)
    assert pair.space.shape == (256, 256)
    assert pair.ground.shape == (38, 38)  # round(256 * 0.03 / 0.202)
    space_centre = pair.space_wcs.pixel_to_world(127.5, 127.5)
    ground_centre = pair.ground_wcs.pixel_to_world(18.5, 18.5)
    assert space_centre.separation(ground_centre).arcsec < 1e-6
    assert pair.params["center_ra"] == pytest.approx(space_centre.ra.deg)
    # COSMOS-like position
    assert abs(space_centre.ra.deg - 150.12) < 0.7 and abs(space_centre.dec.deg - 2.21) < 0.7
    scale_s = np.sqrt(abs(np.linalg.det(pair.space_wcs.pixel_scale_matrix))) * 3600
    scale_g = np.sqrt(abs(np.linalg.det(pair.ground_wcs.pixel_scale_matrix))) * 3600
    assert scale_s == pytest.approx(0.03) and scale_g == pytest.approx(0.202)
    assert pair.space_header["PIXSCALE"] == 0.03 and pair.ground_header["PIXSCALE"] == 0.202
    for header in (pair.space_header, pair.ground_header):
        assert header["TELESCOP"] == "SIMULATED"
        assert header["BUNIT"] == "count"
        assert header["MORPHCLS"] == pair.params["class"]
        assert header["SEED"] == 8


def test_galaxy_centre_lands_on_the_same_sky_position_in_both_images():
    # A symmetric galaxy: the light centroid in each image is the galaxy's centre.
    pair = simulate_pair(seed=31, morphology="elliptical", noise=False, field_star_rate=0,
                         seeing_fwhm=0.8)
    expected = SkyCoord(pair.params["ra"], pair.params["dec"], unit="deg")
    space = _centroid_sky(pair.truth.astype(np.float64), pair.space_wcs)
    ground = _centroid_sky(pair.ground_noiseless.astype(np.float64), pair.ground_wcs)
    assert space.separation(expected).arcsec < 0.015
    assert ground.separation(expected).arcsec < 0.015


def test_field_objects_are_where_their_coordinates_say_in_both_frames():
    field = simulate_field(seed=3, space_shape=(512, 512), n_galaxies=3, n_stars=3, noise=False,
                           seeing_fwhm=0.7)
    assert field.space.shape == (512, 512) and field.ground.shape == (76, 76)
    assert field.params["class"] == "field" and len(field.params["objects"]) == 6
    stars = [o for o in field.params["objects"] if o["class"] == "star"]
    checked = 0
    for star in stars:
        sky = SkyCoord(star["ra"], star["dec"], unit="deg")
        for image, wcs in ((field.truth, field.space_wcs), (field.ground_noiseless, field.ground_wcs)):
            col, row = (float(v) for v in wcs.world_to_pixel(sky))
            r, c = int(round(row)), int(round(col))
            if not (2 <= r < image.shape[0] - 2 and 2 <= c < image.shape[1] - 2):
                continue
            box = image[r - 2 : r + 3, c - 2 : c + 3]
            # The star's own light peaks within a pixel of where its WCS position says.
            peak = np.unravel_index(np.argmax(box), box.shape)
            assert abs(peak[0] - 2) <= 1 and abs(peak[1] - 2) <= 1
            checked += 1
    assert checked >= 4  # at least two stars, each seen in both frames
    assert field.ground_noiseless.sum() == pytest.approx(field.truth.sum(), rel=0.02)


# ---------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------


def test_bad_arguments_are_refused_with_clear_messages():
    with pytest.raises(ValueError, match="unknown morphology 'blob'"):
        simulate_pair(seed=1, morphology="blob")
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        simulate_pair(seed=-1)
    with pytest.raises(ValueError, match="seeing_fwhm"):
        simulate_pair(seed=1, seeing_fwhm=(1.0, 0.5))
    with pytest.raises(ValueError, match="psf must be"):
        simulate_pair(seed=1, psf="gaussian")
    with pytest.raises(ValueError, match="space_shape"):
        simulate_pair(seed=1, space_shape=(4, 4))


# ---------------------------------------------------------------------------------------------
# files and the CLI
# ---------------------------------------------------------------------------------------------


def test_write_pairs_writes_fits_and_a_catalogue_and_refuses_to_overwrite(tmp_path):
    out = write_pairs(tmp_path / "sims", n=3, seed=5, space_shape=(64, 64))
    with open(out / "catalogue.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["name"] for r in rows] == ["sim_00000", "sim_00001", "sim_00002"]
    for index, row in enumerate(rows):
        assert int(row["seed"]) == pair_seed(5, index)
        assert row["class"] in MORPHOLOGIES
        assert 0.5 <= float(row["seeing_fwhm"]) <= 1.2
        assert float(row["flux"]) > 0
        ground = read_image(out / row["ground_file"])
        space = read_image(out / row["space_file"])
        again = simulate_pair(seed=int(row["seed"]), space_shape=(64, 64))
        np.testing.assert_array_equal(ground.data, again.ground)
        np.testing.assert_array_equal(space.data, again.space)
        assert ground.pixel_scale == pytest.approx(0.202)
        assert space.pixel_scale == pytest.approx(0.03)
        assert ground.header["SEEING"] == pytest.approx(float(row["seeing_fwhm"]), abs=1e-5)
        assert ground.header["MORPHCLS"] == row["class"]
        assert json.loads(row["params"])["class"] == row["class"]
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        write_pairs(out, n=1, seed=6, space_shape=(64, 64))


def test_write_pairs_writes_the_noiseless_truth_on_the_space_grid_when_asked(tmp_path):
    out = write_pairs(tmp_path / "t", n=2, seed=5, space_shape=(64, 64), truth=True)
    with open(out / "catalogue.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        assert row["truth_file"] == f"truth/{row['name']}.fits"
        truth = read_image(out / row["truth_file"])
        space = read_image(out / row["space_file"])
        again = simulate_pair(seed=int(row["seed"]), space_shape=(64, 64))
        np.testing.assert_array_equal(truth.data, again.truth)
        assert truth.header["TRUTH"] is True and "TRUTH" not in space.header
        assert truth.wcs.to_header() == space.wcs.to_header()
        # noiseless: what is left of the space image is zero-mean noise, at least the sky's
        # (the galaxy's photon noise adds to it)
        residual = space.data - truth.data
        assert 0.9 * space.header["SKYNOISE"] < np.std(residual) < 5 * space.header["SKYNOISE"]
        assert abs(np.mean(residual)) < 0.1 * np.std(residual)
    # without truth=True there is no truth/ and the column is empty
    plain = write_pairs(tmp_path / "p", n=1, seed=5, space_shape=(64, 64))
    assert not (plain / "truth").exists()
    with open(plain / "catalogue.csv", newline="") as handle:
        assert next(csv.DictReader(handle))["truth_file"] == ""
    # an existing truth file is refused like the others, before anything is written
    (tmp_path / "t2" / "truth").mkdir(parents=True)
    (out / "truth" / "sim_00000.fits").rename(tmp_path / "t2" / "truth" / "sim_00000.fits")
    with pytest.raises(FileExistsError, match="truth/sim_00000.fits already exists"):
        write_pairs(tmp_path / "t2", n=1, seed=5, space_shape=(64, 64), truth=True)
    assert not (tmp_path / "t2" / "catalogue.csv").exists()


def test_write_pairs_reports_progress_and_stops_when_asked(tmp_path):
    seen = []
    write_pairs(tmp_path / "a", n=2, seed=1, space_shape=(32, 32),
                progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 2), (2, 2)]
    with pytest.raises(Cancelled):
        write_pairs(tmp_path / "b", n=3, seed=1, space_shape=(32, 32), should_stop=lambda: True)
    assert not list((tmp_path / "b" / "ground").iterdir())


def _cli(argv):
    parser = argparse.ArgumentParser(prog="seeinggan")
    simulate_cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.run(args)


def test_cli_writes_pairs_and_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "cli"
    assert _cli(["simulate", "-n", "2", "-o", str(out), "--seed", "4", "--seeing", "0.7,0.9",
                 "--size", "64", "--morphology", "spiral"]) == 0
    assert sorted(p.name for p in (out / "ground").iterdir()) == ["sim_00000.fits", "sim_00001.fits"]
    assert sorted(p.name for p in (out / "space").iterdir()) == ["sim_00000.fits", "sim_00001.fits"]
    with open(out / "catalogue.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["class"] for r in rows} == {"spiral"}
    assert not (out / "truth").exists()
    # Every folder written is named (it said only "truth/ and catalogue.csv").
    assert f"2 pairs to {out}/ (ground/, space/) and" in capsys.readouterr().out
    assert _cli(["simulate", "-n", "1", "-o", str(tmp_path / "truth"), "--size", "64", "--truth"]) == 0
    assert read_image(tmp_path / "truth" / "truth" / "sim_00000.fits").header["TRUTH"] is True
    assert "(ground/, space/, truth/)" in capsys.readouterr().out
    assert all(0.7 <= float(r["seeing_fwhm"]) <= 0.9 for r in rows)
    assert read_image(out / "space" / "sim_00000.fits").data.shape == (64, 64)
    before = (out / "catalogue.csv").read_bytes()
    with pytest.raises(CliError, match="already exists.*refusing to overwrite"):
        _cli(["simulate", "-n", "2", "-o", str(out), "--seed", "9"])
    assert (out / "catalogue.csv").read_bytes() == before
    with pytest.raises(SystemExit):
        _cli(["simulate", "-n", "2", "-o", str(out), "--seeing", "fast"])
    assert "--seeing takes" in capsys.readouterr().err
