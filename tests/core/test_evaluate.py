"""seeinggan.evaluate: RL baseline, fidelity measures, the tables, the report files and the CLI."""

import json

import numpy as np
import pytest
import torch
from seeinggan.evaluate import (
    EvaluationReport,
    evaluate_pairs,
    flux_aperture,
    ground_psf_on_space_grid,
    invented_sources,
    relative_flux_error,
    richardson_lucy_deconvolve,
    seeing_bin,
    smoothed_noise,
    truth_images,
)
from seeinggan.infer import Deblurrer
from seeinggan.models import UNetGenerator
from seeinggan.simulate import moffat_psf, write_pairs


@pytest.fixture(scope="module")
def pairs_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("pairs")
    return write_pairs(root / "test", n=4, seed=11, space_shape=(128, 128))


def _gaussian(shape, y, x, sigma, amp):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return amp * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * sigma**2))


def test_ground_psf_is_the_seeing_convolved_with_the_ground_pixel():
    meta = {"seeing_fwhm": 0.8, "psf_model": "moffat", "moffat_beta": 3.0}
    psf = ground_psf_on_space_grid(meta)
    assert psf.shape[0] % 2 == 1 and psf.sum() == pytest.approx(1.0)
    # wider than the bare seeing by the 0.202" pixel box, centred
    bare = moffat_psf(fwhm=0.8, beta=3.0, pixel_scale=0.03, shape=psf.shape)
    assert psf.max() < bare.max()
    assert np.unravel_index(psf.argmax(), psf.shape) == (psf.shape[0] // 2, psf.shape[1] // 2)
    kolmogorov = ground_psf_on_space_grid({"seeing_fwhm": 0.8, "psf_model": "kolmogorov"})
    assert kolmogorov.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="seeing_fwhm"):
        ground_psf_on_space_grid({"name": "x"})


def test_ground_psf_keeps_the_moffat_wings_richardson_lucy_needs():
    # a beta = 2 Moffat holds ~12% of its light beyond 2 FWHM of its centre: the kernel spans
    # 8 FWHM and keeps all but ~3% (a 4-FWHM kernel cut ~12%, and RL then misplaced that light)
    from seeinggan.simulate import moffat_psf

    psf = ground_psf_on_space_grid({"seeing_fwhm": 0.8, "psf_model": "moffat", "moffat_beta": 2.0})
    assert psf.shape[0] >= int(8 * 0.8 / 0.03)
    wide = moffat_psf(fwhm=0.8, beta=2.0, pixel_scale=0.03, shape=(801, 801))
    half = psf.shape[0] // 2
    inside = wide[400 - half:400 + half + 1, 400 - half:400 + half + 1].sum() / wide.sum()
    assert inside > 0.96
    quarter = psf.shape[0] // 4
    assert wide[400 - quarter:400 + quarter + 1, 400 - quarter:400 + quarter + 1].sum() / wide.sum() < 0.9


def test_richardson_lucy_is_tuned_on_the_suites_own_validation_draw_by_band_error():
    from seeinggan.evaluate.run import (
        RL_INVENTED_LIMIT,
        VALIDATION_SEED,
        choose_rl_iterations,
        suite_validation_pairs,
    )
    from seeinggan.evaluate.suites import simulate_suite
    from seeinggan.metrics.fidelity import band_error

    pairs = suite_validation_pairs("psf", n=2)
    suite = simulate_suite("psf", n=2)
    # the suite's settings (its seeing, PSFs), none of its stamps
    assert all(p.truth is not None and p.meta["suite"] == "psf" for p in pairs)
    assert [p.meta["seeing_fwhm"] for p in pairs] != [suite.settings(i)["seeing_fwhm"] for i in range(2)]
    assert pairs[0].meta["seeing_fwhm"] == pytest.approx(
        simulate_suite("psf", n=1, seed=VALIDATION_SEED).settings(0)["seeing_fwhm"])
    tuning = choose_rl_iterations(pairs, candidates=(1, 20, 300))
    scores, invented = tuning.scores, tuning.invented
    assert tuning.criterion == "band_error" and tuning.sharpest == min(scores, key=scores.get)
    # the baseline's count: the lowest band error among the counts within the invention limit
    allowed = [n for n in scores if invented[n] <= RL_INVENTED_LIMIT]
    assert tuning.best == min(allowed, key=scores.get)
    # run long, Richardson-Lucy amplifies the noise into spurious sources
    assert invented[300] > invented[1]
    # the scores are the mean band errors against the truth
    one = [band_error(richardson_lucy_deconvolve(p.ground, ground_psf_on_space_grid(p.meta), iterations=1),
                      p.truth, pixel_scale=0.03, seeing_fwhm=p.meta["seeing_fwhm"], mask=~p.mask) for p in pairs]
    assert scores[1] == pytest.approx(np.mean(one), rel=1e-6)
    # more iterations restore more of the band on these sharp-truth pairs
    assert scores[20] < scores[1]


def test_richardson_lucy_sharpens_keeps_flux_and_nans():
    from scipy.signal import fftconvolve

    psf = ground_psf_on_space_grid({"seeing_fwhm": 0.6, "psf_model": "moffat", "moffat_beta": 3.5})
    truth = _gaussian((128, 128), 64, 64, 2.0, 100.0)
    blurred = fftconvolve(truth, psf, mode="same") + np.random.default_rng(0).normal(0, 0.01, truth.shape)
    blurred[0:3, 0:3] = np.nan
    restored = richardson_lucy_deconvolve(blurred, psf, iterations=30)
    assert np.isnan(restored[:3, :3]).all() and np.isfinite(restored[10:, 10:]).all()
    assert restored[64, 64] > 2 * blurred[64, 64]  # sharper
    centre = (slice(32, 96), slice(32, 96))
    assert restored[centre].sum() == pytest.approx(truth[centre].sum(), rel=0.02)


def test_flux_error_and_invented_sources_measure_what_they_say():
    rng = np.random.default_rng(1)
    shape = (128, 128)
    truth = _gaussian(shape, 60, 66, 4.0, 50.0) + rng.normal(0, 0.1, shape)
    aperture = flux_aperture(truth)
    assert aperture[60, 66] and not aperture[5, 5]
    assert relative_flux_error(truth, truth, aperture) == 0.0
    assert relative_flux_error(1.1 * truth, truth, aperture) == pytest.approx(0.1, abs=0.01)
    # a fake star far from the galaxy is invented; the galaxy itself is not
    test = truth + _gaussian(shape, 20, 100, 1.0, 20.0)
    assert invented_sources(truth, truth, pixel_scale=0.03) == 0
    assert invented_sources(test, truth, pixel_scale=0.03) == 1


def test_seeing_bins():
    assert seeing_bin(0.55) == '< 0.7"'
    assert seeing_bin(0.8) == '0.7-0.9"'
    assert seeing_bin(1.2) == '>= 1.1"'
    assert seeing_bin(float("nan")) == "unknown"


def test_evaluate_a_pairs_folder_with_an_identity_model(pairs_dir, tmp_path):
    torch.manual_seed(0)
    identity = UNetGenerator(base_channels=4, n_down=2, n_res=1)  # untrained residual: the identity
    # without the support guard, which would spread the ground image's own noise (test_support_guard)
    deblurrer = Deblurrer((identity, {"name": "identity"}), support_guard=False)
    report = evaluate_pairs(
        pairs_dir, model=deblurrer, rl_iterations="auto", n_validation=2,
        rl_candidates=(1, 10), device="cpu",
    )
    assert isinstance(report, EvaluationReport)
    assert report.methods == ["ground", "richardson_lucy", "seeinggan"]
    assert len(report.rows) == 4
    assert report.settings["rl_iterations"] in (1, 10)
    assert set(report.settings["rl_validation_scores"]) == {1, 10}
    # simulated validation pairs carry their truth: the count is tuned on the band error
    assert report.settings["rl_validation_criterion"] == "band_error"
    scores, invented = report.settings["rl_validation_scores"], report.settings["rl_validation_invented"]
    allowed = [n for n in scores if invented[n] <= 1.0]
    assert report.settings["rl_iterations"] == min(allowed, key=scores.get)
    t1, t2 = report.table1(), report.table2()
    # the identity network returns the resampled ground image: same scores, 0% improvement
    for metric in ("cw_ssim", "ssim", "psnr"):
        assert t1["seeinggan"][metric]["mean"] == pytest.approx(t1["ground"][metric]["mean"], rel=1e-3, abs=1e-3)
        # the table's statistics are those of the per-pair rows (which differ from pair to pair)
        values = [row[f"ground_{metric}"] for row in report.rows]
        assert len(set(values)) > 1
        assert t1["ground"][metric] == pytest.approx(
            {"mean": float(np.mean(values)), "min": min(values), "max": max(values)})
    assert abs(t2["seeinggan"]["mean"]) < 0.5
    # Richardson-Lucy with the true PSF does deblur: better CW-SSIM than the blurred image
    assert t1["richardson_lucy"]["cw_ssim"]["mean"] > t1["ground"]["cw_ssim"]["mean"]
    assert t2["richardson_lucy"]["mean"] > 0
    fidelity = report.fidelity()
    assert set(fidelity) == set(report.methods)
    assert np.isfinite(fidelity["richardson_lucy"]["median_flux_error"])
    by_class = report.groups("class")
    assert sum(len(v) for v in by_class.values()) == 4
    md, js = report.write(tmp_path / "report")
    text = md.read_text()
    assert "Table 1" in text and "Table 2" in text and "By morphological class" in text and "By seeing FWHM" in text
    assert report.settings["fidelity_reference"] == "space"  # no truth/ in this folder
    assert "against the space image (no `truth/`" in text
    data = json.loads(js.read_text())
    assert data["n_pairs"] == 4
    assert data["table1"]["seeinggan"]["cw_ssim"]["mean"] == pytest.approx(t1["seeinggan"]["cw_ssim"]["mean"])
    assert set(data["by_seeing"]) == set(report.groups("seeing_bin"))
    with pytest.raises(FileExistsError):
        report.write(tmp_path / "report")


def test_cli_evaluate_baselines_only_and_errors(pairs_dir, tmp_path, capsys):
    from seeinggan.cli import main

    out = tmp_path / "rep"
    code = main(["evaluate", str(pairs_dir), "--model", "none", "--rl-iterations", "5", "-o", str(out)])
    assert code == 0
    data = json.loads((out / "report.json").read_text())
    assert data["methods"] == ["ground", "richardson_lucy"] and data["settings"]["rl_iterations"] == 5
    capsys.readouterr()
    assert main(["evaluate", str(pairs_dir), "--model", "none", "--rl-iterations", "5", "-o", str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "missing")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["evaluate", str(pairs_dir), "--rl-iterations", "lots", "-o", str(tmp_path / "x")]) == 2
    assert "--rl-iterations" in capsys.readouterr().err


def test_invented_sources_against_a_noiseless_truth_need_the_space_noise():
    rng = np.random.default_rng(2)
    shape = (128, 128)
    truth = _gaussian(shape, 60, 66, 4.0, 50.0)
    space = truth + rng.normal(0, 0.5, shape)
    noise = smoothed_noise(space)
    assert 0.1 < noise < 0.5  # smoothing by 1 px lowers the per-pixel 0.5
    star = _gaussian(shape, 20, 100, 1.0, 20.0)
    assert invented_sources(space, truth, pixel_scale=0.03, noise=noise) == 0
    assert invented_sources(space + star, truth, pixel_scale=0.03, noise=noise) == 1
    # a star present in the truth is not invented
    assert invented_sources(space + star, truth + star, pixel_scale=0.03, noise=noise) == 0
    with pytest.raises(ValueError, match="noise must be positive"):
        invented_sources(space, truth, pixel_scale=0.03, noise=0.0)


def test_fidelity_is_measured_against_the_truth_when_the_folder_has_one(tmp_path):
    import shutil

    from seeinggan.data import folder_pairs
    from seeinggan.io.fits import read_image, write_image

    folder = write_pairs(tmp_path / "with_truth", n=2, seed=21, space_shape=(128, 128), truth=True)
    report = evaluate_pairs(folder, model=None, rl_iterations=3)
    assert report.settings["fidelity_reference"] == "truth"
    assert "against the noiseless truth" in report.to_markdown()
    # the truth is what the flux errors divide by: halve it and (1 + e) doubles
    halved = tmp_path / "halved"
    shutil.copytree(folder, halved)
    for path in (halved / "truth").iterdir():
        image = read_image(path)
        write_image(path, 0.5 * image.data, header=image.header, wcs=image.wcs, overwrite=True)
    again = evaluate_pairs(halved, model=None, rl_iterations=3)
    for row, row2 in zip(report.rows, again.rows, strict=True):
        for method in ("ground", "richardson_lucy"):
            assert 1 + row2[f"{method}_flux_error"] == pytest.approx(2 * (1 + row[f"{method}_flux_error"]), rel=1e-4)
        # the scores stay against the space image
        assert row2["richardson_lucy_cw_ssim"] == row["richardson_lucy_cw_ssim"]
    # Richardson-Lucy with the true PSF keeps the truth's flux in the aperture far better than
    # the seeing-spread ground image does
    fid = report.fidelity()
    assert abs(fid["richardson_lucy"]["median_flux_error"]) < abs(fid["ground"]["median_flux_error"])
    pairs = folder_pairs(folder)
    assert set(truth_images(folder, pairs)) == {"sim_00000", "sim_00001"}
    (folder / "truth" / "sim_00001.fits").unlink()
    with pytest.raises(ValueError, match="no truth image for 1 pair.*sim_00001"):
        evaluate_pairs(folder, model=None, rl_iterations=3)
    write_image(folder / "truth" / "sim_00001.fits", np.zeros((64, 64), np.float32), wcs=pairs[1].wcs)
    with pytest.raises(ValueError, match="sim_00001.fits: shape"):
        truth_images(folder, pairs)


def test_ripples_on_a_bright_disk_are_not_invented_sources_but_an_added_star_is():
    from seeinggan.evaluate import invented_sources

    yy, xx = np.mgrid[:128, :128].astype(float)
    disk = 400.0 * np.exp(-((yy - 64) ** 2 + (xx - 64) ** 2) / (2 * 20.0**2))
    truth = disk.copy()
    # A 3 % ripple of 8-pixel period over the disk: many local maxima far above the noise.
    rippled = disk * (1 + 0.03 * np.sin(2 * np.pi * xx / 8) * np.sin(2 * np.pi * yy / 8))
    noise = 1.0
    assert invented_sources(rippled, truth, pixel_scale=0.03, noise=noise) == 0
    star = np.exp(-((yy - 40) ** 2 + (xx - 90) ** 2) / (2 * 1.5**2)) * 80.0
    assert invented_sources(rippled + star, truth, pixel_scale=0.03, noise=noise) == 1


@pytest.fixture(scope="module")
def truth_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("truth_pairs")
    return write_pairs(root / "test", n=3, seed=31, space_shape=(128, 128), truth=True)


def test_several_models_side_by_side_and_the_report_leads_with_fidelity(truth_dir, tmp_path):
    torch.manual_seed(0)
    identity = UNetGenerator(base_channels=4, n_down=2, n_res=1)  # untrained residual: the identity
    models = {name: Deblurrer((identity, {"name": name}), support_guard=False) for name in ("identity", "again")}
    report = evaluate_pairs(
        truth_dir, models=models,
        rl_iterations=10, device="cpu",
    )
    assert report.methods == ["ground", "richardson_lucy", "identity", "again"]
    assert set(report.settings["models"]) == {"identity", "again"}
    assert report.settings["fidelity_reference"] == "truth"
    assert report.settings["seeing_source"] == "the pairs' catalogue (seeing_fwhm)"
    fid = report.fidelity()
    for row in report.rows:
        # the identity returns the ground image: the same band error (to float32 rounding)
        assert row["identity_band_error"] == pytest.approx(row["ground_band_error"], rel=1e-3)
        # Richardson-Lucy with the true PSF puts some of the band back (measured 0.70-0.86 vs 0.79-0.93)
        assert row["richardson_lucy_band_error"] < row["ground_band_error"] < 1.0
        assert 0 < row["ground_band_power_ratio"] < 0.1
        assert row["richardson_lucy_frc_scale_arcsec"] <= row["ground_frc_scale_arcsec"]
    assert fid["richardson_lucy"]["band_error_below_ground"] == 1.0
    assert fid["ground"]["band_error"]["mean"] == pytest.approx(
        np.mean([r["ground_band_error"] for r in report.rows]))
    md, js = report.write(tmp_path / "rep")
    text = md.read_text()
    assert text.index("## Fidelity") < text.index("## Table 1") < text.index("## Table 2")
    assert "| Band error, mean" in text and "SeeingGAN identity" in text and "SeeingGAN again" in text
    assert "against the noiseless truth" in text
    data = json.loads(js.read_text())
    assert list(data)[:5] == ["settings", "methods", "n_pairs", "fidelity", "table1"]
    assert data["fidelity"]["richardson_lucy"]["band_error_below_ground"] == 1.0


def test_worker_processes_give_the_same_rows(truth_dir):
    one = evaluate_pairs(truth_dir, model=None, rl_iterations=3)
    two = evaluate_pairs(truth_dir, model=None, rl_iterations=3, workers=2)
    assert two.settings["workers"] == 2
    assert [row["name"] for row in two.rows] == [row["name"] for row in one.rows]
    for a, b in zip(one.rows, two.rows, strict=True):
        assert a.keys() == b.keys()
        for key, value in a.items():
            assert b[key] == (pytest.approx(value, rel=1e-6, nan_ok=True) if isinstance(value, float) else value)


def test_cli_evaluate_two_models_and_the_seeing_from_headers(truth_dir, tmp_path, capsys):
    import shutil

    from seeinggan.cli import main
    from seeinggan.models import save_model

    torch.manual_seed(0)
    model_file = save_model(tmp_path / "identity", UNetGenerator(base_channels=4, n_down=2, n_res=1),
                            metadata={"name": "identity"})
    # A folder whose catalogue lost its seeing: the ground headers' SEEING is used.
    folder = tmp_path / "no_seeing"
    shutil.copytree(truth_dir, folder)
    lines = (folder / "catalogue.csv").read_text().splitlines()
    column = lines[0].split(",").index("seeing_fwhm")
    (folder / "catalogue.csv").write_text(
        "\n".join(",".join(c for i, c in enumerate(line.split(",")) if i != column) for line in lines) + "\n")
    out = tmp_path / "rep"
    code = main(["evaluate", str(folder), "--model", str(model_file), "--model", str(model_file),
                 "--rl-iterations", "3", "--device", "cpu", "-o", str(out)])
    assert code == 0, capsys.readouterr().err
    data = json.loads((out / "report.json").read_text())
    assert data["methods"] == ["ground", "richardson_lucy", "identity", "identity'"]
    assert data["settings"]["seeing_source"] == "the ground headers (SEEING/FWHM)"
    original = evaluate_pairs(truth_dir, model=None, rl_iterations=3)
    for row, again in zip(original.rows, data["pairs"], strict=True):
        assert again["seeing_fwhm"] == pytest.approx(row["seeing_fwhm"], abs=1e-4)
        assert again["ground_band_error"] == pytest.approx(row["ground_band_error"], rel=1e-3)
    capsys.readouterr()
    assert main(["evaluate", str(folder), "--model", "nonesuch", "-o", str(tmp_path / "x")]) == 2
    assert "nonesuch: no such model" in capsys.readouterr().err
    assert main(["evaluate", "-o", str(tmp_path / "x")]) == 2
    assert "PAIRS_DIR" in capsys.readouterr().err
    assert main(["evaluate", "--suite", "nonesuch", "-o", str(tmp_path / "x")]) == 2
    assert "unknown suite 'nonesuch'" in capsys.readouterr().err


def test_richardson_lucy_path_is_scikit_image_at_every_count():
    from seeinggan.evaluate.baselines import richardson_lucy_path
    from seeinggan.transforms import measure_sky_noise
    from skimage.restoration import richardson_lucy

    psf = ground_psf_on_space_grid({"seeing_fwhm": 1.0, "psf_model": "moffat", "moffat_beta": 3.0})
    image = _gaussian((96, 120), 40, 70, 3.0, 30.0) + np.random.default_rng(4).normal(0, 0.2, (96, 120))
    path = richardson_lucy_path(image, psf, iterations=(2, 7))
    assert sorted(path) == [2, 7]
    sky, noise = measure_sky_noise(image)
    offset = noise - float(image.min())
    for count, result in path.items():
        expected = richardson_lucy(image + offset, psf, num_iter=count, clip=False, filter_epsilon=1e-12) - offset
        np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-5)
    assert np.array_equal(richardson_lucy_deconvolve(image, psf, iterations=7), path[7])


def test_cli_evaluate_stress_suites_in_one_run(tmp_path, capsys):
    from seeinggan.cli import main
    from seeinggan.evaluate.suites import SUITES, simulate_suite

    out = tmp_path / "suites"
    code = main(["evaluate", "--suite", "psf", "--suite", "cutouts", "--suite-pairs", "2", "--model", "none",
                 "--rl-iterations", "5", "-o", str(out)])
    assert code == 0, capsys.readouterr().err
    data = json.loads((out / "report.json").read_text())
    assert list(data["reports"]) == ["psf", "cutouts"]
    for name, report in data["reports"].items():
        settings = report["settings"]
        assert settings["suite"] == name and settings["suite_seed"] == SUITES[name].seed
        assert settings["fidelity_reference"] == "truth" and report["n_pairs"] == 2
        # Richardson-Lucy with the true PSF restores some of the band on every pair.
        for row in report["pairs"]:
            assert row["richardson_lucy_band_error"] < row["ground_band_error"]
            assert 0 < row["ground_band_power_ratio"] < 1
    # The psf suite's seeing (0.4-1.6") comes from its catalogue, pair by pair.
    drawn = simulate_suite("psf", n=2)
    assert [row["seeing_fwhm"] for row in data["reports"]["psf"]["pairs"]] == pytest.approx(
        [drawn.settings(i)["seeing_fwhm"] for i in range(2)], abs=1e-4)  # 0.904", 0.433"
    text = (out / "report.md").read_text()
    assert text.index("## psf") < text.index("## cutouts")
    assert "Stress suite `psf`" in text and "its first 2 of 300 pairs" in text
    assert text.index("### Fidelity") < text.index("### Table 1")
    capsys.readouterr()
    assert main(["evaluate", "--list-suites"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in SUITES)


def test_cli_evaluate_network_alone_scores_the_guard_beside_the_shipped_output(truth_dir, tmp_path, capsys):
    from seeinggan.cli import main
    from seeinggan.models import save_model

    torch.manual_seed(0)
    generator = UNetGenerator(base_channels=4, n_down=2, n_res=1, residual=False)  # random: texture everywhere
    model_file = save_model(tmp_path / "random", generator, metadata={"name": "random"})
    out = tmp_path / "rep"
    code = main(["evaluate", str(truth_dir), "--model", str(model_file), "--network-alone",
                 "--rl-iterations", "3", "--device", "cpu", "-o", str(out)])
    assert code == 0, capsys.readouterr().err
    data = json.loads((out / "report.json").read_text())
    assert data["methods"] == ["ground", "richardson_lucy", "random", "network_alone"]
    assert data["settings"]["models"]["random"]["support_guard"] is True
    assert data["settings"]["models"]["network_alone"]["support_guard"] is False
    # the guard changes the output where the input supports no detail (and keeps its flux)
    assert any(row["random_band_error"] != row["network_alone_band_error"] for row in data["pairs"])
    assert main(["evaluate", str(truth_dir), "--model", "none", "--network-alone", "-o", str(tmp_path / "x")]) == 2
    assert "--network-alone needs a model" in capsys.readouterr().err
