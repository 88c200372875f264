"""Sky placement in a napari session: one tangent plane per field, RA/Dec in the status bar,
arcsec units, reset view on the data, fields forgotten when no sky layer is left (issue 14)."""

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from seeinggan import geometry

from napari_seeinggan import _layers

PLUGIN = "napari-seeinggan"


@pytest.fixture(autouse=True)
def _fresh_fields():
    _layers.reset_session_sky_origin()
    yield
    _layers.reset_session_sky_origin()


def _write(path, *, center, scale, shape, seed=0):
    data = np.random.default_rng(seed).normal(100.0, 5.0, shape).astype(np.float32)
    wcs = geometry.make_tan_wcs(center=center, pixel_scale=scale, shape=shape)
    fits.PrimaryHDU(data, header=wcs.to_header()).writeto(path)
    return data, wcs


def _status_at(viewer, layer, row, col):
    """What napari's status bar computes with the cursor over a layer's pixel (row, col)."""
    viewer.layers.selection.active = layer
    viewer.mouse_over_canvas = True
    viewer.cursor.position = tuple(layer.data_to_world([row, col]))
    status, _tooltip = viewer._calc_status_from_cursor()
    return status["coordinates"]


def test_fields_anywhere_overlay_status_units_reset(make_napari_viewer, tmp_path, notifications):
    viewer = make_napari_viewer()
    cosmos = SkyCoord(150.1 * u.deg, 2.2 * u.deg)
    far = SkyCoord(330 * u.deg, -30 * u.deg)  # 150 degrees away: was refused before
    _write(tmp_path / "cosmos_ground.fits", center=cosmos, scale=0.2, shape=(60, 60))
    _write(tmp_path / "cosmos_space.fits", center=cosmos, scale=0.05, shape=(240, 240), seed=1)
    far_data, far_wcs = _write(tmp_path / "far.fits", center=far, scale=0.25, shape=(50, 70),
                               seed=2)
    ground = viewer.open(str(tmp_path / "cosmos_ground.fits"), plugin=PLUGIN)[0]
    space = viewer.open(str(tmp_path / "cosmos_space.fits"), plugin=PLUGIN)[0]
    assert not any("new sky field" in n for n in notifications.messages())
    other = viewer.open(str(tmp_path / "far.fits"), plugin=PLUGIN)[0]
    assert any("new sky field 2" in n for n in notifications.messages())

    # Images of one field overlay: the same sky point is the same world point.
    assert np.allclose(ground.data_to_world([29.5, 29.5]), space.data_to_world([119.5, 119.5]),
                       atol=1e-6)
    # Arcsec units: the scale bar reads arcsec.
    assert [str(unit) for unit in other.units] == ["arcsecond", "arcsecond"]
    viewer.canvas.overlays.scale_bar.visible = True
    # The new field is next to the first one (not 500,000 arcsec away): reset view shows both.
    viewer.reset_view()
    (low, high) = np.asarray(viewer.layers.extent.world)[:, -2:]
    assert np.all(high - low < 100), (low, high)
    centre = np.asarray(viewer.scene.camera.center[-2:])
    assert np.all(centre > low) and np.all(centre < high)

    # The status bar at a known pixel: RA/Dec (sexagesimal and degrees), FITS x/y and value.
    row, col = 12, 33
    text = _status_at(viewer, other, row, col)
    expected = far_wcs.pixel_to_world(col, row)
    assert geometry.format_sky(expected) in text
    assert f"x,y {col + 1}, {row + 1}" in text
    assert float(text.rsplit(": ", 1)[1]) == pytest.approx(far_data[row, col], abs=0.1)
    ra_deg, dec_deg = (float(v) for v in text.split("(")[1].split(")")[0].split(","))
    assert SkyCoord(ra_deg * u.deg, dec_deg * u.deg).separation(expected).arcsec < 0.01

    from napari_seeinggan._layers import layer_geometry

    _, wcs_back, scale_back = layer_geometry(other)
    assert scale_back == pytest.approx(0.25)
    assert wcs_back.pixel_to_world(7, 9).separation(far_wcs.pixel_to_world(7, 9)).arcsec < 1e-3

    # No sky layer left: the fields are forgotten; the far field now opens at the world origin.
    viewer.layers.clear()
    assert _layers.sky_fields().fields == []
    again = viewer.open(str(tmp_path / "far.fits"), plugin=PLUGIN)[0]
    assert np.allclose(again.data_to_world([24.5, 34.5]), [0, 0], atol=1e-6)
