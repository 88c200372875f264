"""Stress suites: each pinned to its seed, the held-out set reproduced, the broad training prior
covering every suite, suite folders and the CLI."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
from seeinggan.cli import CliError
from seeinggan.cli import simulate as simulate_cli
from seeinggan.data import folder_pairs
from seeinggan.evaluate.baselines import ground_psf_on_space_grid
from seeinggan.evaluate.suites import (
    SUITES,
    pair_fingerprint,
    simulate_suite,
    write_suite,
)
from seeinggan.io.fits import read_image
from seeinggan.simulate import pair_seed, simulate_pair
from seeinggan.simulate.priors import EVALUATION_SEEDS, PRIORS, SCENES, bounds_of

# The first pair of each suite (fingerprints: `pair_fingerprint`, compared at rtol 1e-6) and the
# drawn settings of its first three pairs, taken when the suites were defined. A change here
# means the suite is no longer the set that earlier evaluations were run on.
PINS = {
    'heldout': {
        "class": 'spiral',
        "truth": [1118.579743886341, 5129.150283503485, 185425.21496267075, 107797.59498756485, 2.1607613563537598],
        "ground": [1134.3935948683793, 14881.2385649282, 26963.798215445015, 15883.937637572322, 21.939992904663086],
        "settings": [{'scene': 'galaxies'}, {'scene': 'galaxies'}, {'scene': 'galaxies'}],
    },
    'bright_smooth': {
        "class": 'elliptical',
        "truth": [6174.524511911466, 55371.22911376299, 797129.4298052806, 786473.7593541523, 42.73658752441406],
        "ground": [6147.661782643518, 597407.272602875, 115183.76035311629, 113788.44536020831, 263.5871887207031],
        "settings": [{'scene': 'bright_smooth', 'morphology': 'elliptical', 'sersic_n_range': (2.0, 8.0), 'galaxy_r_e_range': (0.3, 11.52), 'peak_snr': 460.1196092818568, 'field_star_rate': 0.0, 'canvas_margin': 4.0}, {'scene': 'bright_smooth', 'morphology': 'elliptical', 'sersic_n_range': (2.0, 8.0), 'galaxy_r_e_range': (0.3, 11.52), 'peak_snr': 586.2333317187331, 'field_star_rate': 0.0, 'canvas_margin': 4.0}, {'scene': 'bright_smooth', 'morphology': 'elliptical', 'sersic_n_range': (2.0, 8.0), 'galaxy_r_e_range': (0.3, 11.52), 'peak_snr': 128.43199040268019, 'field_star_rate': 0.0, 'canvas_margin': 4.0}],
    },
    'deep_field': {
        "class": 'field',
        "truth": [110634.15864764171, 103997420.465736, 13938128.721852843, 10646929.061766233, 0.04892951622605324],
        "ground": [110376.65097907922, 218736299.1662409, 2017761.1980313156, 1530940.7718077074, 6.256882667541504],
        "settings": [{'scene': 'deep_field', 'space_shape': (256, 256), 'n_galaxies': 16, 'n_stars': 4, 'galaxy_mag_range': (21.0, 26.5), 'galaxy_r_e_range': (0.1, 0.8), 'star_mag_range': (18.0, 25.5), 'canvas_margin': 4.0}, {'scene': 'deep_field', 'space_shape': (256, 256), 'n_galaxies': 7, 'n_stars': 2, 'galaxy_mag_range': (21.0, 26.5), 'galaxy_r_e_range': (0.1, 0.8), 'star_mag_range': (18.0, 25.5), 'canvas_margin': 4.0}, {'scene': 'deep_field', 'space_shape': (256, 256), 'n_galaxies': 12, 'n_stars': 2, 'galaxy_mag_range': (21.0, 26.5), 'galaxy_r_e_range': (0.1, 0.8), 'star_mag_range': (18.0, 25.5), 'canvas_margin': 4.0}],
    },
    'pixel_scales': {
        "class": 'spiral',
        "truth": [24661.456603685518, 325105.9269264659, 3100625.1179387327, 3211471.7627048027, 43.073211669921875],
        "ground": [24655.586133202072, 3793330.6785926595, 547249.0904269824, 566812.689371105, 375.92486572265625],
        "settings": [{'scene': 'galaxies', 'ground_pixel_scale': 0.168}, {'scene': 'galaxies', 'ground_pixel_scale': 0.202}, {'scene': 'galaxies', 'ground_pixel_scale': 0.202}],
    },
    'cutouts': {
        "class": 'bulge+disk',
        "truth": [18563.558456748724, 14001.455202479661, 2344480.315468617, 2355578.195164755, 6.255769729614258],
        "ground": [18365.55971097946, 413775.0214630064, 336916.7717885971, 338495.79402399063, 76.22931671142578],
        "settings": [{'scene': 'cutout', 'galaxy_r_e_range': (2.5, 10.0), 'fill_snr': 9.747442542363082, 'canvas_margin': 4.0}, {'scene': 'cutout', 'galaxy_r_e_range': (2.5, 10.0), 'fill_snr': 7.00040820560958, 'canvas_margin': 4.0}, {'scene': 'cutout', 'galaxy_r_e_range': (2.5, 10.0), 'fill_snr': 14.811907481089632, 'canvas_margin': 4.0}],
    },
    'psf': {
        "class": 'spiral',
        "truth": [7670.858684648001, 25420.591759983716, 1015699.0705922432, 961045.5057107883, 6.569695472717285],
        "ground": [7653.361178525403, 365277.86940900306, 147604.71313922206, 139559.2932472467, 112.33809661865234],
        "settings": [{'scene': 'galaxies', 'seeing_fwhm': 0.9044337903737365, 'psf': 'kolmogorov', 'moffat_beta': 4.576750348080029, 'psf_ellipticity': 0.0}, {'scene': 'galaxies', 'seeing_fwhm': 0.4334552438542627, 'psf': 'kolmogorov', 'moffat_beta': 4.610535798694022, 'psf_ellipticity': 0.0}, {'scene': 'galaxies', 'seeing_fwhm': 0.8462688504900456, 'psf': 'moffat', 'moffat_beta': 4.371300450390212, 'psf_ellipticity': 0.0847516944328997}],
    },
    'space_noise': {
        "class": 'bulge+disk',
        "truth": [20048.73288366077, 357595.3546976169, 2507763.66752476, 2509445.9391606664, 32.48134994506836],
        "ground": [20059.816278969054, 5097065.239633054, 363859.05462333094, 364133.26928275824, 479.7171630859375],
        "settings": [{'scene': 'galaxies', 'space_noise': 'drizzle'}, {'scene': 'galaxies', 'space_noise': 'drizzle'}, {'scene': 'galaxies', 'space_noise': 'drizzle'}],
    },
}


@pytest.mark.parametrize("name", list(SUITES))
def test_suite_is_pinned_to_its_seed(name):
    suite = SUITES[name]
    assert suite.seed == EVALUATION_SEEDS[name]
    pairs = simulate_suite(name)
    assert len(pairs) == suite.n
    pin = PINS[name]
    settings = [{k: v for k, v in pairs.settings(i).items() if k not in ("prior", "kind")}
                for i in range(3)]
    assert settings == pin["settings"]
    first = pairs[0]
    assert first.params["class"] == pin["class"] and first.params["suite"] == name
    figures = pair_fingerprint(first)
    np.testing.assert_allclose(figures["truth"], pin["truth"], rtol=1e-6)
    np.testing.assert_allclose(figures["ground"], pin["ground"], rtol=1e-6)


def test_suites_are_a_few_hundred_pairs_with_distinct_reserved_seeds():
    assert SUITES["heldout"].n == 100 and SUITES["heldout"].seed == 1000
    assert all(200 <= s.n <= 500 for name, s in SUITES.items() if name != "heldout")
    seeds = [s.seed for s in SUITES.values()]
    assert len(set(seeds)) == len(seeds)
    assert all(s.description and s.prior.name == name for name, s in SUITES.items())


def test_heldout_suite_is_the_written_heldout_set():
    # `seeinggan simulate -n 100 -o eval/test --seed 1000 --truth` writes these same pairs.
    suite_pair = simulate_suite("heldout", n=2)[1]
    direct = simulate_pair(seed=pair_seed(1000, 1), space_shape=(256, 256), seeing_fwhm=(0.5, 1.2))
    for name in ("ground", "space", "truth"):
        assert np.array_equal(getattr(suite_pair, name), getattr(direct, name))


def test_a_suite_pair_does_not_depend_on_n_and_repeats_exactly():
    a = simulate_suite("psf", n=3)[2]
    b = simulate_suite("psf")[2]
    assert np.array_equal(a.ground, b.ground) and np.array_equal(a.truth, b.truth)
    other = simulate_suite("psf", n=3, seed=4321)[2]
    assert not np.array_equal(a.truth, other.truth)
    with pytest.raises(IndexError):
        simulate_suite("psf", n=3)[3]
    with pytest.raises(ValueError, match="unknown suite"):
        simulate_suite("nonesuch")


def _inside(values, support) -> bool:
    """Every value or interval of ``values`` lies in the union of ``support``."""
    intervals = [s for s in support if isinstance(s, tuple)]
    plain = [s for s in support if not isinstance(s, tuple)]
    for value in values:
        if isinstance(value, tuple) and all(isinstance(v, (int, float)) for v in value):
            if not any(lo <= value[0] and value[-1] <= hi for lo, hi, *_ in intervals):
                return False
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            if value not in plain and not any(lo <= value <= hi for lo, hi, *_ in intervals):
                return False
        elif value not in plain:
            return False
    return True


def test_broad_training_prior_covers_every_suite():
    broad = PRIORS["broad"]
    broad_scenes = {scene.name: scene for _, scene in broad.scenes}
    for name, suite in SUITES.items():
        for _, scene in suite.prior.scenes:
            assert broad_scenes.get(scene.name) == scene, (name, scene.name)
        for key, spec in suite.prior.common.items():
            assert key in broad.common, (name, key)
            assert _inside(bounds_of(spec), bounds_of(broad.common[key])), (name, key)
    # And the defaults of the galaxy suites (seeing 0.5-1.2", beta 2.5-4.5, 0.202"/px, white
    # noise, round PSFs) lie inside the broad prior too.
    defaults = {"seeing_fwhm": [(0.5, 1.2)], "moffat_beta": [(2.5, 4.5)],
                "ground_pixel_scale": [0.202], "space_noise": ["white"], "psf_ellipticity": [0.0],
                "psf": ["moffat", "kolmogorov"]}
    for key, values in defaults.items():
        assert _inside(values, bounds_of(broad.common[key])), key


def test_cutouts_have_no_blank_sky_and_bright_smooth_no_substructure():
    cutout = simulate_suite("cutouts", n=1)[0]
    sigma = cutout.params["ground_sky_noise"]
    assert np.percentile(cutout.ground_noiseless, 10) == pytest.approx(
        cutout.params["fill_snr"] * sigma, rel=1e-4)
    assert (cutout.ground_noiseless > 3 * sigma).mean() > 0.9
    smooth = simulate_suite("bright_smooth", n=1)[0]
    assert smooth.params["class"] in ("elliptical", "s0")
    assert not any(c.get("component") in ("gaussian knots", "point", "bar")
                   for c in smooth.params["components"])
    assert smooth.ground_noiseless.max() / smooth.params["ground_sky_noise"] == pytest.approx(
        smooth.params["peak_snr"], rel=1e-4)
    assert SCENES["bright_smooth"].settings["field_star_rate"] == 0.0


def test_write_suite_writes_a_pairs_folder_with_truth_and_sky_keywords(tmp_path):
    root = write_suite("psf", tmp_path / "psf", n=3)
    info = json.loads((root / "suite.json").read_text())
    assert info["suite"] == "psf" and info["n"] == 3 and info["seed"] == 9105
    assert {row["setting"] for row in info["settings"]} >= {"seeing_fwhm", "psf_ellipticity"}
    pairs = folder_pairs(root)
    assert [p.name for p in pairs] == ["sim_00000", "sim_00001", "sim_00002"]
    elliptical = pairs[2]
    assert elliptical.meta["psf_ellipticity"] == pytest.approx(0.0847516944328997, rel=1e-9)
    assert elliptical.meta["scene"] == "galaxies"
    truth = read_image(root / "truth" / "sim_00002.fits")
    assert truth.header["TRUTH"] is True
    suite_pair = simulate_suite("psf", n=3)[2]
    np.testing.assert_array_equal(truth.data, suite_pair.truth)
    ground = read_image(root / "ground" / "sim_00002.fits").header
    assert ground["SKYLEVEL"] > 0 and ground["SKYNOISE"] > 0 and ground["SKYSUB"] is True
    assert ground["PSFELL"] == pytest.approx(0.08475, abs=1e-5)
    # The RL baseline's "true PSF" follows the elliptical seeing.
    psf = ground_psf_on_space_grid(elliptical.meta)
    round_psf = ground_psf_on_space_grid({**elliptical.meta, "psf_ellipticity": ""})
    assert not np.allclose(psf, round_psf)
    with pytest.raises(FileExistsError):
        write_suite("psf", root, n=3)


def _cli(argv):
    parser = argparse.ArgumentParser()
    simulate_cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.run(args)


def test_cli_lists_and_writes_suites(tmp_path, capsys):
    assert _cli(["simulate", "--list-suites"]) == 0
    listing = capsys.readouterr().out
    for name, suite in SUITES.items():
        assert name in listing and str(suite.seed) in listing
    out = tmp_path / "space_noise"
    assert _cli(["simulate", "--suite", "space_noise", "-n", "1", "-o", str(out)]) == 0
    space = read_image(out / "space" / "sim_00000.fits").header
    assert space["NOISECOR"] == "drizzle"
    assert (out / "truth" / "sim_00000.fits").exists()
    assert json.loads((out / "suite.json").read_text())["seed"] == 9106
    with pytest.raises(CliError, match="fixes the simulator's settings; drop --seeing"):
        _cli(["simulate", "--suite", "psf", "--seeing", "0.7", "-o", str(tmp_path / "x")])
    with pytest.raises(CliError, match="unknown suite 'nope'"):
        _cli(["simulate", "--suite", "nope", "-o", str(tmp_path / "y")])
    with pytest.raises(CliError, match="-n N is required"):
        _cli(["simulate", "-o", str(tmp_path / "z")])
