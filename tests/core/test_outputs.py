"""Outputs (issue 13): atomic files, a full disk, a read-only folder, kills, input sanity.

The disk tests mount a 2 MB tmpfs (``mount -t tmpfs -o size=2m``); where mounting is refused
(not root, no CAP_SYS_ADMIN) they are skipped with the reason.
"""

import logging
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch
from astropy.coordinates import SkyCoord
from seeinggan import geometry
from seeinggan.cli import main
from seeinggan.errors import InputError, NoSpaceError, OutputError, OutputExistsError
from seeinggan.io.atomic import (
    atomic_write_bytes,
    check_output_folder,
    clean_stale_temporaries,
    is_temporary,
)
from seeinggan.io.fits import write_image
from seeinggan.models import UNetGenerator, save_model

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def small_disk(folder: Path, size: str = "2m", *, read_only: bool = False):
    folder.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or 'mount refused'})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture
def tiny_model(tmp_path):
    torch.manual_seed(0)
    return save_model(tmp_path / "models" / "tiny", UNetGenerator(base_channels=4, n_down=2, n_res=1),
                      metadata={"pixel_scale_arcsec": 0.101, "input_pixel_scale_arcsec": 0.202})


def _ground(path: Path, *, shape=(64, 64), value=None) -> Path:
    rng = np.random.default_rng(1)
    data = rng.normal(3.0, 0.2, shape).astype(np.float32) if value is None else np.full(shape, value, np.float32)
    wcs = geometry.make_tan_wcs(center=SkyCoord(150.0, 2.0, unit="deg"), pixel_scale=0.202, shape=shape)
    return write_image(path, data, wcs=wcs)


def _deblur(inputs, out, model, *extra):
    return main(["deblur", *map(str, inputs), "-o", str(out), "--model", str(model), "--device", "cpu",
                 "--tile", "64", "--overlap", "16", *extra])


# --- the shared helper ----------------------------------------------------------------------

def test_atomic_write_leaves_whole_files_or_nothing(tmp_path):
    target = tmp_path / "out" / "table.csv"
    atomic_write_bytes(target, b"a,b\n1,2\n")
    assert target.read_bytes() == b"a,b\n1,2\n"
    with pytest.raises(OutputExistsError, match="table.csv: exists"):
        atomic_write_bytes(target, b"other")
    assert target.read_bytes() == b"a,b\n1,2\n"
    atomic_write_bytes(target, b"new", overwrite=True)
    assert target.read_bytes() == b"new"
    assert [p.name for p in target.parent.iterdir()] == ["table.csv"]  # no temporary left


def test_leftover_temporaries_are_never_outputs_and_are_cleaned(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    pid = int(dead.stdout)  # a process that has exited
    stale = tmp_path / f".x_deblurred.fits.{pid}.0123abcd.seeinggan-tmp"
    stale.write_bytes(b"SIMPLE  =  half a file")
    mine = tmp_path / f".y.fits.{os.getpid()}.89abcdef.seeinggan-tmp"
    mine.write_bytes(b"in progress")
    assert is_temporary(stale) and not is_temporary(tmp_path / "x_deblurred.fits")
    assert not list(tmp_path.glob("*.fits"))  # no reader pattern takes them for outputs
    assert clean_stale_temporaries(tmp_path) == [stale]
    assert mine.exists() and not stale.exists()


def test_output_folder_problems_are_found_before_the_work(tmp_path, tiny_model, capsys):
    source = _ground(tmp_path / "in.fits")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="not a folder"):
        check_output_folder(blocker)
    assert _deblur([source], blocker, tiny_model) == 2
    assert "not-a-folder: not a folder" in capsys.readouterr().err


def test_full_disk_says_no_space_left_and_leaves_no_partial_file(tmp_path, tiny_model, capsys):
    disk = tmp_path / "disk"
    with small_disk(disk, "2m"):
        # Up front: 4 outputs of 512x512 float32 (1 MiB each) do not fit in 2 MB.
        inputs = [_ground(tmp_path / f"in{i}.fits", shape=(256, 256)) for i in range(4)]
        assert _deblur(inputs, disk / "out", tiny_model) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "no space left" in err[0] and "needed" in err[0], err
        assert not list((disk / "out").glob("*.fits"))
        # While writing (the disk fills after the check): NoSpaceError, nothing under the name.
        filler = disk / "filler.bin"
        with pytest.raises(NoSpaceError, match="no space left on the device while writing"):
            atomic_write_bytes(filler, b"\0" * (3 * 1024 * 1024))
        assert not filler.exists() and not any(is_temporary(p) for p in disk.iterdir())
        # write_image checks the room first.
        with pytest.raises(NoSpaceError, match="no space left"):
            write_image(disk / "big.fits", np.zeros((1024, 1024), np.float32))
        assert not (disk / "big.fits").exists()


def test_read_only_output_folder_is_reported_before_the_work(tmp_path, tiny_model, capsys):
    disk = tmp_path / "ro"
    with small_disk(disk, "1m", read_only=True):
        source = _ground(tmp_path / "in.fits")
        assert _deblur([source], disk, tiny_model) == 2
        err = capsys.readouterr().err
        assert "not writable" in err and "Traceback" not in err


# --- kills ----------------------------------------------------------------------------------

def _kill_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("kill_test", ROOT / "scripts" / "kill_test.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_kill_9_of_deblur_leaves_only_whole_outputs_and_a_rerun_finishes(tmp_path):
    counts = _kill_script().run_deblur_kills(3, seed=1, work=tmp_path, log=lambda _: None)
    assert counts["partial_outputs"] == 0
    assert counts["reruns_ok"] == 3 and counts["reruns_failed"] == 0


def test_kill_9_of_train_keeps_checkpoints_loadable_and_resume_works(tmp_path):
    counts = _kill_script().run_train_kills(2, seed=1, work=tmp_path, log=lambda _: None)
    assert counts["bad_checkpoints"] == 0 and counts["partial_models"] == 0
    assert counts["resumes_ok"] == 2


# --- input sanity ---------------------------------------------------------------------------

def test_all_zero_or_constant_input_comes_back_resampled_with_a_warning(tiny_model, caplog):
    from seeinggan.infer import Deblurrer

    deblurrer = Deblurrer(tiny_model, device="cpu", tile=64, overlap=16)
    for value in (0.0, 7.5):
        image = np.full((40, 40), value, np.float32)
        with caplog.at_level(logging.WARNING, logger="seeinggan"):
            result = deblurrer.deblur(image, pixel_scale=0.202)
        assert result.data.shape == (80, 80)
        # Flux per pixel conserved by the resampling (4 output pixels per input pixel).
        assert np.allclose(result.data, value / 4, atol=1e-6)
        assert result.metadata["no_signal"] is True
        assert "no signal" in caplog.text


def test_nonsense_pixel_scale_is_a_clear_error_not_an_allocation(tmp_path, tiny_model, capsys):
    source = tmp_path / "plain.fits"
    write_image(source, np.ones((32, 32), np.float32) + np.eye(32, dtype=np.float32))
    assert _deblur([source], tmp_path / "out", tiny_model, "--pixel-scale", "1000") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["seeinggan deblur: error: --pixel-scale 1000.0 arcsec/px is not a plausible pixel "
                   "scale (expected 0.001..10; 0.2 for a typical ground-based camera)"]
    from seeinggan.infer import Deblurrer

    with pytest.raises(InputError, match="not a plausible pixel scale|positive number of arcsec/px"):
        Deblurrer(tiny_model, device="cpu").deblur(np.ones((8, 8), np.float32), pixel_scale=float("nan"))


def test_a_large_run_is_announced_and_memory_beyond_the_limit_is_refused(monkeypatch, caplog):
    from seeinggan.errors import ResourceLimitError
    from seeinggan.infer.sanity import plan_deblur

    with caplog.at_level(logging.WARNING, logger="seeinggan"):
        # 6 GiB: announced, and within a 24 GiB machine's memory (CI's size)
        plan = plan_deblur((3000, 3000), 0.202 / 0.03, name="ground.fits")
    assert plan.output_shape == (20200, 20200)
    assert "ground.fits: a long run" in caplog.text and "GiB of memory" in caplog.text
    monkeypatch.setenv("SEEINGGAN_MEMORY_LIMIT", "4G")
    with pytest.raises(ResourceLimitError, match=r"needs about \d+\.\d GiB of memory .* only 4.0 GiB"):
        plan_deblur((3000, 3000), 0.202 / 0.03, name="ground.fits")


def test_train_name_cannot_escape_the_output_folder(tmp_path, capsys):
    out = tmp_path / "deep" / "run"
    assert main(["train", "--name", "../../escaped", "-o", str(out)]) == 2
    assert "--name '../../escaped' must be a plain name, not a path" in capsys.readouterr().err
    assert not (tmp_path / "escaped.safetensors").exists() and not out.exists()


def test_sky_center_of_a_corrupt_header_is_a_value_error_not_attribute_error():
    from astropy.wcs import WCS

    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.radesys = "NONSENSE"  # a frame astropy cannot name: pixel_to_world gives a list
    wcs.wcs.set()
    with pytest.raises(ValueError, match="celestial frame is unknown"):
        geometry.sky_center(wcs, (10, 10))
