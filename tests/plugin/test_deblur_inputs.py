"""Every input the Deblur dock can take: images without a celestial WCS (pixel scale typed or
read from the header), seeing prefilled, phase messages, big outputs as multiscale layers."""

import numpy as np
import pytest
from _dock_helpers import add_deblur_dock, wait_idle
from astropy.io import fits

from napari_seeinggan import _layers

PLUGIN = "napari-seeinggan"


@pytest.fixture(autouse=True)
def _fresh_fields():
    _layers.reset_session_sky_origin()
    yield
    _layers.reset_session_sky_origin()


def _shown(widget) -> bool:
    """Whether the dock shows the widget (the test's window itself is not on screen)."""
    return not widget.native.isHidden()


def _blobs(shape, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    data = rng.normal(0.0, 1.0, shape) + 50 * np.exp(-((yy - shape[0] / 2) ** 2
                                                       + (xx - shape[1] / 3) ** 2) / 18.0)
    return data.astype(np.float32)


def test_no_wcs_pixel_scale_typed_or_from_header(make_napari_viewer, qtbot, tmp_path,
                                                notifications):
    viewer = make_napari_viewer()
    header = fits.Header([("SECPIX", 0.26), ("SEEING", 1.1), ("BUNIT", "ADU")])
    fits.PrimaryHDU(_blobs((30, 30)), header=header).writeto(tmp_path / "keywords.fits")
    fits.PrimaryHDU(_blobs((24, 40), seed=1)).writeto(tmp_path / "bare.fits")
    keywords = viewer.open(str(tmp_path / "keywords.fits"), plugin=PLUGIN)[0]
    bare = viewer.open(str(tmp_path / "bare.fits"), plugin=PLUGIN)[0]
    dock = add_deblur_dock(viewer, model_dir=tmp_path)

    dock.image.value = keywords
    assert _shown(dock.pixel_scale)
    assert dock.pixel_scale.value == pytest.approx(0.26)
    assert dock.seeing.value == pytest.approx(1.1)

    dock.image.value = bare
    assert _shown(dock.pixel_scale) and dock.pixel_scale.value == 0
    assert dock.seeing.value == 0
    assert dock.run() is None  # nothing to go on: the dock says which box to fill
    assert "type its pixel scale" in dock.state.message and "'pixel scale' box" in \
        dock.state.message

    messages = []
    dock.state.events.message.connect(lambda value: messages.append(value))
    dock.pixel_scale.value = 0.2
    dock.run()
    wait_idle(qtbot, dock)
    assert dock.state.status == "done", dock.state.message
    out = viewer.layers["bare.fits[0] deblurred"]
    assert out.metadata["pixel_scale"] == pytest.approx(0.03, rel=1e-3)
    assert out.data.shape == (round(24 * 0.2 / 0.03), round(40 * 0.2 / 0.03))
    assert out.metadata["provenance"]["pixel_scale"] == pytest.approx(0.2)
    # Phases, in order: resampling, tiles i/N, adding the result.
    assert any(m.startswith("resampling 40 x 24 px from 0.2\"/px to 0.03\"/px") for m in messages)
    tiles = [m for m in messages if m.startswith("tiles ")]
    assert tiles and tiles[-1].split()[1].split("/")[0] == tiles[-1].split("/")[1]
    assert messages.index(tiles[0]) > [i for i, m in enumerate(messages)
                                       if m.startswith("resampling")][0]
    # A layer with a WCS does not show the box.
    from _dock_helpers import add_sky_layer, sky_image

    data, wcs = sky_image((32, 32))
    sky = add_sky_layer(viewer, data, wcs, "sky")
    dock.image.value = sky
    assert not _shown(dock.pixel_scale)


def test_big_output_is_a_lazy_multiscale_layer(make_napari_viewer):
    import napari
    from seeinggan import geometry

    viewer = make_napari_viewer()
    big = np.zeros((4200, 4300), dtype=np.float32)
    big[2000:2100, 2000:2100] = 1.0
    from astropy.coordinates import SkyCoord

    wcs = geometry.make_tan_wcs(center=SkyCoord(10, 20, unit="deg"), pixel_scale=0.03,
                                shape=big.shape)
    data, kwargs, kind = _layers.layer_data_from_array(big, wcs=wcs, name="big deblurred")
    assert kwargs["multiscale"] is True
    assert data[0] is big  # full resolution untouched (saved as is)
    assert [level.shape for level in data[1:]] == [(2100, 2150), (1050, 1075), (525, 537)]
    assert type(data[1]).__module__.startswith("dask")  # lazy: computed as napari shows it
    layer = viewer.add_layer(napari.layers.Layer.create(data, kwargs, kind))
    assert layer.multiscale
    np.testing.assert_allclose(np.asarray(data[3][250:262, 250:262]), 1.0)  # 8x8 block means
    assert float(np.asarray(data[3]).sum()) == pytest.approx(100 * 100 / 64)
    _d, wcs_back, scale = _layers.layer_geometry(layer)
    assert scale == pytest.approx(0.03) and _d is big


def test_saved_result_keeps_the_input_header(make_napari_viewer, qtbot, tmp_path):
    """Round trip: FITS in -> deblur in the dock -> Save (the plugin's writer) -> FITS out."""
    from astropy.coordinates import SkyCoord
    from seeinggan import geometry
    from seeinggan.io.fits import read_image

    viewer = make_napari_viewer()
    wcs = geometry.make_tan_wcs(center=SkyCoord(330, -30, unit="deg"), pixel_scale=0.2,
                                shape=(32, 32))
    header = wcs.to_header()
    header["BUNIT"] = ("ADU", "flux unit")
    header["MAGZP"] = (27.5, "AB zero point")
    header["EXPTIME"] = 600.0
    header["FILTER"] = "r"
    header["PIXSCALE"] = 0.2
    header["SEEING"] = 0.9
    header["SATURATE"] = 60000.0
    header["HISTORY"] = "flat-fielded by the observatory"
    fits.PrimaryHDU(_blobs((32, 32)), header=header).writeto(tmp_path / "field.fits")
    layer = viewer.open(str(tmp_path / "field.fits"), plugin=PLUGIN)[0]
    dock = add_deblur_dock(viewer, model_dir=tmp_path)
    dock.image.value = layer
    dock.run()
    wait_idle(qtbot, dock)
    assert dock.state.status == "done", dock.state.message
    out = viewer.layers["field.fits[0] deblurred"]
    path = tmp_path / "saved.fits"
    viewer.layers.selection = {out}
    viewer.layers.save(str(path), selected=True, plugin=PLUGIN)

    saved = read_image(path)
    h = saved.header
    assert h["BUNIT"] == "ADU" and h["MAGZP"] == 27.5 and h["EXPTIME"] == 600.0
    assert h["FILTER"] == "r"
    for key in ("SEEING", "SATURATE"):  # true of the input's pixels only
        assert key not in h, key
    assert h["PIXSCALE"] == pytest.approx(0.03, rel=1e-3)  # updated to the output's pixels
    history = "\n".join(str(line) for line in h["HISTORY"])
    assert "flat-fielded by the observatory" in history
    assert "deblurred with SeeingGAN" in history and "tiny.safetensors" in history
    assert "overlap" in history and "layer" in history  # how it was made, and the save
    assert geometry.pixel_scale(saved.wcs) == pytest.approx(0.03, rel=1e-3)
    rows, cols = saved.data.shape
    centre_in = wcs.pixel_to_world(15.5, 15.5)
    centre_out = saved.wcs.pixel_to_world((cols - 1) / 2, (rows - 1) / 2)
    assert centre_in.separation(centre_out).arcsec < 0.03
    np.testing.assert_allclose(saved.data, out.data, rtol=1e-6)
    # Flux kept: the deblurred total is the input's total (the network changes it by little).
    assert h["NAXIS1"] == cols and h["NAXIS2"] == rows
