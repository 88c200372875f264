"""``seeinggan deblur``: a successful run on a tiny model and the one-line error paths."""

import numpy as np
import pytest
import torch
from astropy.coordinates import SkyCoord
from astropy.io import fits
from seeinggan import geometry
from seeinggan.cli import main
from seeinggan.io.fits import read_image, write_image
from seeinggan.models import UNetGenerator
from seeinggan.models.io import save_model


@pytest.fixture
def tiny_model(tmp_path):
    torch.manual_seed(0)
    generator = UNetGenerator(base_channels=4, n_down=2, n_res=1, residual=True)
    return save_model(tmp_path / "models" / "tiny", generator, metadata={"description": "test"})


def _ground_fits(path, *, with_wcs=True, shape=(24, 20)):
    rng = np.random.default_rng(0)
    data = rng.normal(3.0, 0.1, shape).astype(np.float32)
    data[10, 8] += 50.0
    header = fits.Header()
    header["BUNIT"] = "count"
    wcs = None
    if with_wcs:
        wcs = geometry.make_tan_wcs(center=SkyCoord(150.0, 2.0, unit="deg"), pixel_scale=0.202, shape=shape)
    write_image(path, data, header=header, wcs=wcs)
    return path


def _error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_deblur_writes_the_output_with_wcs_and_history(tmp_path, tiny_model, capsys):
    source = _ground_fits(tmp_path / "field.fits")
    out_dir = tmp_path / "out"
    code = main(["deblur", str(source), "-o", str(out_dir), "--model", str(tiny_model), "--device", "cpu",
                 "--tile", "64", "--overlap", "16"])
    assert code == 0
    assert "wrote" in capsys.readouterr().out
    result = read_image(out_dir / "field_deblurred.fits")
    assert result.data.shape == geometry.upsampled_shape((24, 20), 0.202 / 0.03) == (162, 135)
    assert result.pixel_scale == pytest.approx(0.03, rel=1e-6)
    # the identity model keeps the flux; the input's other keywords are carried over
    assert np.nansum(result.data) == pytest.approx(np.sum(read_image(source).data), rel=0.01)
    assert result.header["BUNIT"] == "count"
    history = " ".join(str(h) for h in result.header["HISTORY"])
    assert "deblur: model tiny" in history and "tile 64" in history and "overlap 16" in history
    # the source's sky position is kept (to a small fraction of a ground pixel)
    ground = read_image(source)
    sky = ground.wcs.pixel_to_world(8, 10)
    row, col = np.unravel_index(np.nanargmax(result.data), result.data.shape)
    assert result.wcs.pixel_to_world(col, row).separation(sky).arcsec < 0.05


def test_pixel_scale_serves_files_without_wcs(tmp_path, tiny_model, capsys):
    source = _ground_fits(tmp_path / "nowcs.fits", with_wcs=False)
    code = main(["deblur", str(source), "-o", str(tmp_path), "--model", str(tiny_model), "--device", "cpu"])
    assert code == 2
    line = _error_line(capsys)
    assert "nowcs.fits" in line and "no celestial WCS" in line and "--pixel-scale" in line
    assert not (tmp_path / "nowcs_deblurred.fits").exists()
    code = main(["deblur", str(source), "-o", str(tmp_path), "--model", str(tiny_model), "--device", "cpu",
                 "--pixel-scale", "0.202"])
    assert code == 0
    assert read_image(tmp_path / "nowcs_deblurred.fits").data.shape == (162, 135)


def test_missing_input_is_one_line(tmp_path, tiny_model, capsys):
    code = main(["deblur", str(tmp_path / "nope.fits"), "-o", str(tmp_path / "out"), "--model", str(tiny_model)])
    assert code == 2
    line = _error_line(capsys)
    assert "nope.fits" in line and "not found" in line
    assert not (tmp_path / "out").exists()


def test_existing_output_is_never_overwritten(tmp_path, tiny_model, capsys):
    source = _ground_fits(tmp_path / "field.fits")
    existing = tmp_path / "out" / "field_deblurred.fits"
    existing.parent.mkdir()
    existing.write_bytes(b"keep me")
    code = main(["deblur", str(source), "-o", str(existing.parent), "--model", str(tiny_model)])
    assert code == 2
    line = _error_line(capsys)
    assert "field_deblurred.fits" in line and "exists" in line
    assert existing.read_bytes() == b"keep me"


def test_output_may_not_be_an_input(tmp_path, tiny_model, capsys):
    # an input that is itself named like an output, in the output folder
    source = _ground_fits(tmp_path / "a_deblurred.fits")
    other = _ground_fits(tmp_path / "a.fits")
    code = main(["deblur", str(other), str(source), "-o", str(tmp_path), "--model", str(tiny_model)])
    assert code == 2
    line = _error_line(capsys)
    assert "a_deblurred.fits" in line and "input" in line


def test_missing_model_file_is_one_line(tmp_path, capsys):
    source = _ground_fits(tmp_path / "field.fits")
    code = main(["deblur", str(source), "-o", str(tmp_path / "out"), "--model", str(tmp_path / "none.safetensors")])
    assert code == 2
    assert "none" in _error_line(capsys)


def test_output_name_drops_every_fits_suffix():
    from pathlib import Path

    from seeinggan.cli.deblur import output_path

    names = {"a.fits": "a", "b.FITS.GZ": "b", "c.fit.gz": "c", "d.fits.fz": "d", "e.fts": "e",
             "f.gz": "f", "g.txt": "g.txt", "h.v2.fit": "h.v2"}
    for name, stem in names.items():
        assert output_path(Path(name), Path("out")) == Path("out") / f"{stem}_deblurred.fits", name
