"""A real Dask cluster on 127.0.0.1 started with dask's own CLI: files and a catalogue through
``seeinggan deblur --scheduler``, one worker killed mid-run, outputs whole and equal to a
single-process run."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from astropy.coordinates import SkyCoord
from astropy.io import fits
from seeinggan import geometry
from seeinggan.cli import main
from seeinggan.io.atomic import is_temporary
from seeinggan.io.fits import read_image, write_image
from seeinggan.models import UNetGenerator
from seeinggan.models.io import save_model

pytest.importorskip("distributed", reason="dask.distributed is an optional dependency (pip install .[dask])")

ROOT = Path(__file__).resolve().parents[2]
# dask's own command line (`dask scheduler`, `dask worker`), from the same environment
_DASK_CLI = Path(sys.executable).with_name("dask")
DASK = [str(_DASK_CLI)] if _DASK_CLI.exists() else [sys.executable, "-m", "dask"]


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src_core"), str(ROOT), env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    return env


def _frames(folder: Path, n: int) -> list[Path]:
    folder.mkdir()
    paths = []
    for k in range(n):
        rng = np.random.default_rng(k)
        shape = (40, 44)
        image = rng.normal(20.0, 1.0, shape).astype(np.float32)
        yy, xx = np.mgrid[: shape[0], : shape[1]]
        for _ in range(4):
            y, x = rng.uniform(5, 35), rng.uniform(5, 39)
            image += (rng.uniform(50, 300) * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / 6.0)).astype(np.float32)
        center = SkyCoord(150.0 + 0.01 * k, 2.0, unit="deg")
        wcs = geometry.make_tan_wcs(center=center, pixel_scale=0.202, shape=shape)
        paths.append(write_image(folder / f"frame{k:02d}.fits", image, header=fits.Header({"SEEING": 0.7}), wcs=wcs))
    return paths


def _catalog(path: Path, frames: list[Path]) -> Path:
    lines = ["id,ra,dec"]
    for k, frame in enumerate(frames[:3]):
        wcs = read_image(frame).wcs
        for j, (x, y) in enumerate([(20.0, 30.0), (35.0, 10.0), (1.0, 38.0)]):
            sky = wcs.pixel_to_world(x, y)
            lines.append(f"s{k}_{j},{sky.ra.deg:.8f},{sky.dec.deg:.8f}")
    lines.append("nowhere,10.0,-30.0")
    path.write_text("\n".join(lines) + "\n")
    return path


def _start(cmd, log: Path):
    with open(log, "wb") as stream:
        return subprocess.Popen(cmd, stdout=stream, stderr=subprocess.STDOUT, env=_env(), cwd=ROOT,
                                start_new_session=True)


def _stop(process) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)
    except ProcessLookupError:
        process.wait(5)


def _compare(reference: Path, result: Path, names: list[str]) -> None:
    for name in names:
        ref = read_image(reference / name)
        got = read_image(result / name)  # a whole FITS file: the reader checks the data length
        assert got.data.shape == ref.data.shape
        np.testing.assert_array_equal(np.isnan(got.data), np.isnan(ref.data))
        np.testing.assert_allclose(got.data, ref.data, rtol=1e-5, atol=1e-5, equal_nan=True)
        assert got.header["HISTORY"][0] == ref.header["HISTORY"][0]
    # A killed worker's unfinished file may remain only as a hidden temporary (removed by the next
    # run once its process is gone): never under an output's name, never read as an output.
    leftovers = [p for p in result.iterdir() if p.name.startswith(".")]
    assert all(is_temporary(p) for p in leftovers), leftovers


def test_files_and_catalogue_on_a_dask_cli_cluster_survive_a_killed_worker(tmp_path):
    torch.manual_seed(0)
    model = save_model(tmp_path / "tiny", UNetGenerator(base_channels=4, n_down=2, n_res=1, residual=False),
                       metadata={"description": "test"})
    frames = _frames(tmp_path / "frames", 6)
    catalog = _catalog(tmp_path / "sources.csv", frames)
    options = ["--model", str(model), "--device", "cpu", "--tile", "64", "--overlap", "16", "--size", "3"]

    # the single-process reference
    assert main(["deblur", *map(str, frames), "-o", str(tmp_path / "ref"), *options]) == 0
    assert main(["deblur", *map(str, frames), "--catalog", str(catalog), "-o", str(tmp_path / "ref_cat"),
                 *options]) == 0

    scheduler_file = tmp_path / "scheduler.json"
    processes = []
    try:
        processes.append(_start(
            [*DASK, "scheduler", "--host", "127.0.0.1", "--port", "0",
             "--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(scheduler_file)],
            tmp_path / "scheduler.log"))
        deadline = time.monotonic() + 30
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        workers = [
            _start([*DASK, "worker", address, "--host", "127.0.0.1",
                    "--nthreads", "1", "--no-nanny", "--name", f"w{k}", "--no-dashboard"], tmp_path / f"w{k}.log")
            for k in range(2)
        ]
        processes.extend(workers)

        out = tmp_path / "out"
        run = subprocess.Popen(
            [sys.executable, "-m", "seeinggan.cli", "deblur", *map(str, frames), "-o", str(out), "--scheduler", address,
             *options], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=_env(), cwd=ROOT)
        processes.append(run)
        # kill one worker as soon as the first output is complete: the rest of its work moves on
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (out.is_dir() and any(out.glob("*_deblurred.fits"))):
            time.sleep(0.05)
        done_at_kill = len(list(out.glob("*_deblurred.fits")))
        os.kill(workers[0].pid, signal.SIGKILL)
        text = run.communicate(timeout=300)[0].decode()
        assert run.returncode == 0, text
        assert "dask: scheduler tcp://127.0.0.1:" in text and "dashboard" in text
        assert done_at_kill < len(frames), "the worker was killed after the run had finished"
        names = [f"frame{k:02d}_deblurred.fits" for k in range(len(frames))]
        assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == names
        _compare(tmp_path / "ref", out, names)

        # the catalogue through the same cluster (one worker left), then a rerun that resumes
        cat_out = tmp_path / "cat"
        code = subprocess.run(
            [sys.executable, "-m", "seeinggan.cli", "deblur", *map(str, frames), "--catalog", str(catalog), "-o",
             str(cat_out), "--scheduler", address, "--chunk-size", "2", *options],
            capture_output=True, env=_env(), cwd=ROOT, timeout=300, check=False)
        assert code.returncode == 0, code.stdout.decode() + code.stderr.decode()
        with open(cat_out / "catalog_results.csv") as stream:
            rows = list(csv.DictReader(stream))
        with open(tmp_path / "ref_cat" / "catalog_results.csv") as stream:
            ref_rows = list(csv.DictReader(stream))
        keys = ("id", "status", "image", "x", "y", "edge", "coverage", "seeing_arcsec")
        assert [{k: r[k] for k in keys} for r in rows] == [{k: r[k] for k in keys} for r in ref_rows]
        assert {r["status"] for r in rows} == {"ok", "outside"}
        _compare(tmp_path / "ref_cat", cat_out, [f"{r['id']}_deblurred.fits" for r in rows if r["status"] == "ok"])

        (out / names[0]).unlink()  # an interrupted survey: one output missing
        rerun = subprocess.run(
            [sys.executable, "-m", "seeinggan.cli", "deblur", *map(str, frames), "-o", str(out), "--scheduler", address,
             "--skip-existing", *options], capture_output=True, env=_env(), cwd=ROOT, timeout=300, check=False)
        assert rerun.returncode == 0, rerun.stderr.decode()
        assert rerun.stdout.decode().count("kept ") == len(frames) - 1
        assert rerun.stdout.decode().count("wrote ") == 1
        _compare(tmp_path / "ref", out, names)
    finally:
        for process in reversed(processes):  # only the processes this test started, by their ids
            _stop(process)
