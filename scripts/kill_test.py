"""``kill -9`` of ``seeinggan deblur`` and ``seeinggan train`` at random moments; print the counts.

    python scripts/kill_test.py [--deblur-kills 20] [--train-kills 5] [--seed 0] [--parallel 1]

Deblur: a clean run first gives the reference outputs (6 inputs, a tiny model, 2x upsampling) and
its duration T. Each trial starts the same command into a fresh folder, sends SIGKILL after a
random time in [0.1 T, 1.1 T], then checks every file under an output's final name
(``*_deblurred.fits``): it must read back and equal the reference (a partial file is a failure).
Then ``--skip-existing`` is run in the same folder: it must finish, remove the temporaries the
killed run left, and leave all six outputs equal to the reference.

Train: a tiny run (checkpoint every step) killed at a random moment; every checkpoint must load,
no model file may exist under its final name unless it loads, and ``--resume`` must finish the
run with the model loading.

Exit code 1 if any check failed. `run_deblur_kills` / `run_train_kills` are used by the test suite
with a few kills.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src_core"), str(ROOT)]

N_INPUTS = 6


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src_core"), str(ROOT), env.get("PYTHONPATH", "")])
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "seeinggan.cli", *args]


def prepare_deblur(folder: Path, *, shape=(160, 160)) -> tuple[list[Path], Path]:
    """Inputs and a tiny model (0.202 -> 0.101 arcsec/px) in `folder`."""
    import numpy as np
    import torch
    from astropy.coordinates import SkyCoord
    from seeinggan import geometry
    from seeinggan.io.fits import write_image
    from seeinggan.models import UNetGenerator, save_model

    torch.manual_seed(0)
    model = save_model(folder / "tiny", UNetGenerator(base_channels=4, n_down=2, n_res=1),
                       metadata={"pixel_scale_arcsec": 0.101, "input_pixel_scale_arcsec": 0.202})
    rng = np.random.default_rng(0)
    inputs = []
    for index in range(N_INPUTS):
        data = rng.normal(3.0, 0.2, shape).astype(np.float32)
        data[40 + index, 50] += 80.0
        wcs = geometry.make_tan_wcs(center=SkyCoord(150.0, 2.0 + index * 0.01, unit="deg"),
                                    pixel_scale=0.202, shape=shape)
        inputs.append(write_image(folder / "in" / f"field{index}.fits", data, wcs=wcs))
    return inputs, model


def _deblur_command(inputs, model, out) -> list[str]:
    return _cli("deblur", *map(str, inputs), "-o", str(out), "--model", str(model), "--device", "cpu",
                "--tile", "64", "--overlap", "16", "--skip-existing")


def _check_outputs(out: Path, reference: dict) -> list[str]:
    """Problems with the files under final names in `out` (empty list: all whole and right)."""
    import numpy as np
    from seeinggan.io.fits import read_image

    problems = []
    for path in sorted(out.glob("*_deblurred.fits")):
        try:
            data = read_image(path).data
        except Exception as error:  # noqa: BLE001 - a partial file is exactly what we look for
            problems.append(f"{path.name}: unreadable ({error})")
            continue
        expected = reference[path.name]
        if data.shape != expected.shape or not np.allclose(data, expected, rtol=1e-5, atol=1e-6, equal_nan=True):
            problems.append(f"{path.name}: differs from the reference")
    return problems


def run_deblur_kills(kills: int, *, seed: int = 0, work: Path | None = None, log=print,
                     parallel: int = 1) -> dict:
    """`kills` random kill -9 trials of ``seeinggan deblur``; returns the counts."""
    from seeinggan.io.atomic import is_temporary
    from seeinggan.io.fits import read_image

    rng = random.Random(seed)
    work = Path(work or tempfile.mkdtemp(prefix="kill_deblur_"))
    inputs, model = prepare_deblur(work)
    start = time.perf_counter()
    clean = subprocess.run(_deblur_command(inputs, model, work / "reference"), env=_env(),
                           capture_output=True, text=True, check=False)
    duration = time.perf_counter() - start
    if clean.returncode != 0:
        raise RuntimeError(f"the clean run failed: {clean.stderr[-2000:]}")
    reference = {p.name: read_image(p).data for p in (work / "reference").glob("*_deblurred.fits")}
    counts = {"kills": 0, "partial_outputs": 0, "complete_outputs_seen": 0, "temporaries_left": 0,
              "reruns_ok": 0, "reruns_failed": 0, "duration_s": round(duration, 2)}
    delays = [rng.uniform(0.1, 1.1) * duration for _ in range(kills)]
    lock = threading.Lock()

    def trial(index: int) -> None:
        out = work / f"trial{index}"
        delay = delays[index]
        process = subprocess.Popen(_deblur_command(inputs, model, out), env=_env(),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        killed = process.poll() is None
        if killed:
            process.send_signal(signal.SIGKILL)
        process.wait()
        problems = _check_outputs(out, reference)
        seen = len(list(out.glob("*_deblurred.fits"))) - len(problems) if out.exists() else 0
        leftovers = [p for p in out.iterdir() if is_temporary(p)] if out.exists() else []
        rerun = subprocess.run(_deblur_command(inputs, model, out), env=_env(), capture_output=True,
                               text=True, check=False)
        after = _check_outputs(out, reference)
        whole = len(list(out.glob("*_deblurred.fits"))) == N_INPUTS
        stale = [p for p in out.iterdir() if is_temporary(p)]
        ok = rerun.returncode == 0 and not after and whole and not stale
        with lock:
            counts["kills"] += int(killed)
            counts["partial_outputs"] += len(problems)
            counts["complete_outputs_seen"] += seen
            counts["temporaries_left"] += len(leftovers)
            counts["reruns_ok" if ok else "reruns_failed"] += 1
            log(f"deblur trial {index}: {'killed' if killed else 'finished before the kill'} after "
                f"{delay:.2f} s; {seen} whole outputs, {len(problems)} partial, {len(leftovers)} "
                f"temporaries left; rerun {'ok' if ok else 'FAILED: ' + str(after) + str(stale) + rerun.stderr[-300:]}")
        shutil.rmtree(out, ignore_errors=True)

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        list(pool.map(trial, range(kills)))
    return counts


TRAIN_SETTINGS = ["--set", "steps=8", "--set", "batch_size=1", "--set", "base_channels=4",
                  "--set", "critic_base_channels=4", "--set", "val_pairs=1", "--set", "num_workers=0",
                  "--set", "adversarial_after=0", "--set", "log_every=1", "--set", "checkpoint_every=1",
                  "--no-progress", "--simulate", "2"]


def run_train_kills(kills: int, *, seed: int = 0, work: Path | None = None, log=print) -> dict:
    """`kills` random kill -9 trials of ``seeinggan train``, each resumed; returns the counts."""
    from seeinggan.io.atomic import is_temporary
    from seeinggan.models.io import load_model
    from seeinggan.train.checkpoints import list_checkpoints, load_checkpoint

    rng = random.Random(seed + 1)
    work = Path(work or tempfile.mkdtemp(prefix="kill_train_"))
    counts = {"kills": 0, "bad_checkpoints": 0, "partial_models": 0, "resumes_ok": 0,
              "resumes_failed": 0}
    start = time.perf_counter()
    clean = subprocess.run(_cli("train", *TRAIN_SETTINGS, "-o", str(work / "clean"), "--name", "m"),
                           env=_env(), capture_output=True, text=True, check=False)
    duration = time.perf_counter() - start
    if clean.returncode != 0:
        raise RuntimeError(f"the clean training run failed: {clean.stderr[-2000:]}")
    counts["duration_s"] = round(duration, 2)
    for trial in range(kills):
        out = work / f"trial{trial}"
        delay = rng.uniform(0.3, 1.0) * duration
        process = subprocess.Popen(_cli("train", *TRAIN_SETTINGS, "-o", str(out), "--name", "m"),
                                   env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            counts["kills"] += 1
        process.wait()
        for checkpoint in list_checkpoints(out) if out.exists() else []:
            try:
                load_checkpoint(checkpoint)
            except Exception:  # noqa: BLE001
                counts["bad_checkpoints"] += 1
        if (out / "m.json").exists():
            try:
                load_model(out / "m")
            except Exception:  # noqa: BLE001
                counts["partial_models"] += 1
        if list_checkpoints(out) if out.exists() else []:
            resume = subprocess.run(_cli("train", *TRAIN_SETTINGS, "-o", str(out), "--name", "m",
                                         "--resume", str(out)),
                                    env=_env(), capture_output=True, text=True, check=False)
        else:  # killed before the first checkpoint: start again
            resume = subprocess.run(_cli("train", *TRAIN_SETTINGS, "-o", str(out), "--name", "m",
                                         "--overwrite"),
                                    env=_env(), capture_output=True, text=True, check=False)
        ok = resume.returncode == 0
        if ok:
            try:
                _, meta = load_model(out / "m")
                ok = meta["training"]["steps"] == 8
            except Exception:  # noqa: BLE001
                ok = False
        checkpoints = out / "checkpoints"
        stale = [p for p in checkpoints.iterdir() if is_temporary(p)] if checkpoints.exists() else []
        ok = ok and not stale
        counts["resumes_ok" if ok else "resumes_failed"] += 1
        log(f"train trial {trial}: killed after {delay:.2f} s; resume {'ok' if ok else 'FAILED'}"
            + ("" if ok else f": {resume.stderr[-600:]}"))
        shutil.rmtree(out, ignore_errors=True)
    return counts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deblur-kills", type=int, default=20)
    parser.add_argument("--train-kills", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--parallel", type=int, default=1, help="deblur trials at once")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="kill_test_"))
    try:
        deblur = run_deblur_kills(args.deblur_kills, seed=args.seed, work=work / "deblur",
                                  parallel=args.parallel)
        train = run_train_kills(args.train_kills, seed=args.seed, work=work / "train")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\ndeblur:", ", ".join(f"{k} {v}" for k, v in deblur.items()))
    print("train: ", ", ".join(f"{k} {v}" for k, v in train.items()))
    bad = deblur["partial_outputs"] + deblur["reruns_failed"] + train["bad_checkpoints"] \
        + train["partial_models"] + train["resumes_failed"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
