"""Models addressable by name (issue 11): shipped names, saved user models, files, and the
one-line error for a name that is none of these."""

import numpy as np
import pytest
import torch
from astropy.coordinates import SkyCoord
from astropy.io import fits
from seeinggan import geometry
from seeinggan.cli import main
from seeinggan.errors import SeeingGANError
from seeinggan.infer import Deblurrer
from seeinggan.io.fits import write_image
from seeinggan.models import UNetGenerator
from seeinggan.models.io import (
    ModelFileError,
    list_models,
    model_purpose,
    resolve_model,
    save_model,
    shipped_models_dir,
    user_models_dir,
)


@pytest.fixture
def user_model():
    """A tiny model saved in the (test's) user models folder as 'my-field'."""
    torch.manual_seed(0)
    generator = UNetGenerator(base_channels=4, n_down=2, n_res=1, residual=True)
    return save_model(user_models_dir() / "my-field", generator, metadata={"description": "test"})


def test_shipped_names_resolve_to_the_weights_folder():
    path = resolve_model("default")
    assert path == shipped_models_dir() / "default.safetensors"
    assert resolve_model("Default") == path  # names are not case-sensitive
    entries = list_models()
    assert entries[0].name == "default" and entries[0].shipped
    assert {e.name for e in entries if e.shipped} == {p.stem for p in shipped_models_dir().glob("*.safetensors")}


def test_default_says_it_is_for_science():
    (default,) = [e for e in list_models() if e.name == "default"]
    assert default.purpose == "science: photometry and structure"
    assert model_purpose(default.path) == default.purpose


def test_saved_user_model_and_files_resolve(user_model, tmp_path):
    assert resolve_model("my-field") == user_model
    assert resolve_model(str(user_model.with_suffix(".json"))) == user_model
    assert resolve_model(user_model.with_suffix("")) == user_model  # NAME without suffix, as a Path
    assert "my-field" in [e.name for e in list_models() if not e.shipped]


def test_unknown_name_is_one_line_listing_the_models(user_model):
    with pytest.raises(ModelFileError) as caught:
        resolve_model("adversarail")
    message = str(caught.value)
    assert isinstance(caught.value, SeeingGANError)
    assert "\n" not in message
    assert message.startswith("adversarail: no such model")
    for name in ("default", "my-field"):
        assert name in message
    with pytest.raises(ModelFileError, match="no such model"):
        Deblurrer("adversarail", device="cpu")


def test_cli_unknown_model_is_one_line(tmp_path, capsys):
    source = tmp_path / "in.fits"
    write_image(source, np.ones((24, 20), np.float32), header=fits.Header(),
                wcs=geometry.make_tan_wcs(center=SkyCoord(150.0, 2.0, unit="deg"), pixel_scale=0.202,
                                          shape=(24, 20)))
    code = main(["deblur", str(source), "-o", str(tmp_path / "out"), "--model", "nosuch"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nosuch: no such model" in err[0] and "default" in err[0], err
    code = main(["evaluate", "--suite", "heldout", "-o", str(tmp_path / "rep"), "--model", "default",
                 "--model", "nosuch"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nosuch: no such model" in err[0], err


def test_deblur_by_name_matches_deblur_by_file(user_model):
    rng = np.random.default_rng(0)
    image = rng.normal(0.0, 1.0, (24, 20)).astype(np.float32)
    image[10, 8] += 40.0
    by_name = Deblurrer("my-field", device="cpu", tile=64)
    by_file = Deblurrer(str(user_model), device="cpu", tile=64)
    assert by_name.model_name == "my-field"
    a = by_name.deblur(image, pixel_scale=0.202, seeing=0.8).data
    b = by_file.deblur(image, pixel_scale=0.202, seeing=0.8).data
    assert a.shape == b.shape and a.shape[0] > image.shape[0]
    np.testing.assert_array_equal(a, b)


def test_deblur_with_the_shipped_default_by_name():
    rng = np.random.default_rng(1)
    image = rng.normal(0.0, 1.0, (24, 24)).astype(np.float32)
    yy, xx = np.mgrid[:24, :24]
    image += 30.0 * np.exp(-((yy - 12) ** 2 + (xx - 11) ** 2) / (2 * 1.5**2))
    deblurrer = Deblurrer("default", device="cpu", tile=128)
    assert deblurrer.model_name == "default"
    assert deblurrer.model_path == shipped_models_dir() / "default.safetensors"
    out = deblurrer.deblur(image, pixel_scale=0.2, seeing=0.8, sky=0.0, noise=1.0).data
    assert np.isfinite(out).all()
    # the galaxy stays where it was: the brightest output pixel is near the input's centre
    peak = np.unravel_index(np.argmax(out), out.shape)
    scale = out.shape[0] / image.shape[0]
    assert abs(peak[0] / scale - 12) < 2 and abs(peak[1] / scale - 11) < 2
