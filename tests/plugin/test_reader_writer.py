"""The npe2 FITS reader and writer, and the layer helpers the docks use."""

import gzip
import shutil

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table
from seeinggan import geometry
from seeinggan.io.fits import FitsReadError, FitsWriteError, read_image

from napari_seeinggan import _layers
from napari_seeinggan._reader import get_reader
from napari_seeinggan._writer import write_fits

CENTER = SkyCoord(150.1 * u.deg, 2.2 * u.deg)
HST, SUBARU = 0.03, 0.202
PLUGIN = "napari-seeinggan"


@pytest.fixture(autouse=True)
def _fresh_sky_origin():
    """Each test starts a 'session' of its own: the first celestial image fixes the origin."""
    _layers.reset_session_sky_origin()
    yield
    _layers.reset_session_sky_origin()


def _gaussian(shape, y0, x0, sigma, flux=1000.0):
    yy, xx = np.indices(shape, dtype=float)
    g = np.exp(-0.5 * (((yy - y0) / sigma) ** 2 + ((xx - x0) / sigma) ** 2))
    return (flux * g / g.sum()).astype(np.float32)


def _write(path, data, wcs=None, **hdu_kwargs):
    header = wcs.to_header() if wcs is not None else None
    fits.PrimaryHDU(data, header=header, **hdu_kwargs).writeto(path)
    return path


def _read(path):
    reader = get_reader(str(path))
    assert reader is not None
    return reader(str(path))


def test_get_reader_claims_fits_names_only(tmp_path):
    for name in ("a.fits", "a.FIT", "a.fts", "a.fits.gz", "a.fit.gz", "a.fits.fz"):
        assert get_reader(str(tmp_path / name)) is not None, name
    for name in ("a.png", "a.npy", "a.fits.bz2", "a.txt"):
        assert get_reader(str(tmp_path / name)) is None, name
    (tmp_path / "folder.fits").mkdir()
    assert get_reader(str(tmp_path / "folder.fits")) is None
    assert get_reader([str(tmp_path / "a.fits"), str(tmp_path / "b.png")]) is None


def test_reader_layer_data_metadata_placement_and_contrast(tmp_path):
    data = np.random.default_rng(0).normal(10.0, 1.0, (40, 50)).astype(np.float32)
    data[3, 4], data[5, 6], data[7, 8] = np.nan, np.inf, -np.inf
    wcs = geometry.make_tan_wcs(center=CENTER, pixel_scale=SUBARU, shape=data.shape)
    path = _write(tmp_path / "ground.fits", data, wcs)
    ((layer_data, kwargs, kind),) = _read(path)
    assert kind == "image"
    assert kwargs["name"] == "ground.fits[0]"
    assert kwargs["colormap"] == "gray"
    low, high = kwargs["contrast_limits"]
    assert np.isfinite(low) and np.isfinite(high) and 5.0 < low < 10.0 < high < 15.0
    meta = kwargs["metadata"]
    assert isinstance(meta["header"], fits.Header)
    assert meta["pixel_scale"] == pytest.approx(SUBARU)
    assert meta["source_path"] == str(path)
    assert meta["hdu_index"] == 0
    assert meta["wcs"].pixel_to_world(24.5, 19.5).separation(CENTER).arcsec < 1e-6
    # The first celestial image fixes the session origin at its centre: its centre is world (0, 0).
    assert _layers.session_sky_origin().separation(CENTER).arcsec < 1e-6
    affine = np.asarray(kwargs["affine"])
    centre_world = affine @ np.array([19.5, 24.5, 1.0])
    np.testing.assert_allclose(centre_world[:2], 0.0, atol=1e-6)
    # North is world axis 0: a row up (+y) is SUBARU arcsec north.
    np.testing.assert_allclose(affine[:2, :2], [[SUBARU, 0], [0, SUBARU]], atol=1e-9)
    np.testing.assert_array_equal(np.isnan(layer_data), np.isnan(data))


def test_reader_multi_extension_gz_fz_cube_and_tables(tmp_path):
    sci = np.ones((10, 12), np.float32)
    wcs = geometry.make_tan_wcs(center=CENTER, pixel_scale=HST, shape=sci.shape)
    mef = tmp_path / "mef.fits"
    fits.HDUList(
        [fits.PrimaryHDU(), fits.ImageHDU(sci, header=wcs.to_header(), name="SCI"),
         fits.BinTableHDU(Table({"x": [1.0]}), name="CAT"), fits.ImageHDU(sci * 2)]
    ).writeto(mef)
    layers = _read(mef)
    assert [kw["name"] for _, kw, _ in layers] == ["mef.fits[SCI]", "mef.fits[3]"]
    assert layers[0][1]["metadata"]["hdu_index"] == 1
    assert any("CAT" in note for note in layers[0][1]["metadata"]["notes"])
    assert layers[1][1]["metadata"]["wcs"] is None

    gz = tmp_path / "mef.fits.gz"
    with open(mef, "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    assert [kw["name"] for _, kw, _ in _read(gz)] == ["mef.fits.gz[SCI]", "mef.fits.gz[3]"]

    fz = tmp_path / "c.fits.fz"
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(sci, name="SCI")]).writeto(fz)
    ((data, kwargs, _),) = _read(fz)
    assert kwargs["name"] == "c.fits.fz[SCI]" and data.shape == (10, 12)

    cube = np.random.default_rng(1).random((3, 10, 12)).astype(np.float32)
    header = wcs.to_header()
    header["CTYPE3"] = "FREQ"
    cube_path = tmp_path / "cube.fits"
    fits.PrimaryHDU(cube, header=header).writeto(cube_path)
    ((data, kwargs, _),) = _read(cube_path)
    assert data.shape == (3, 10, 12)
    affine = np.asarray(kwargs["affine"])
    assert affine.shape == (4, 4)
    assert affine[0, 0] == 1.0 and affine[0, 1:3].tolist() == [0.0, 0.0]


def test_reader_big_endian_scaled_integers(tmp_path):
    raw = np.array([[0, 10], [20, 30]], dtype=">i2")
    hdu = fits.PrimaryHDU(raw, do_not_scale_image_data=True)
    hdu.header["BSCALE"], hdu.header["BZERO"] = 2.0, -5.0
    path = tmp_path / "be.fits"
    hdu.writeto(path)
    ((data, _, _),) = _read(path)
    assert data.dtype == np.float32 and data.dtype.isnative
    np.testing.assert_array_equal(data, [[-5, 15], [35, 55]])


def test_reader_without_wcs_unit_scale_and_a_warning_note(tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr("napari.utils.notifications.show_warning", shown.append)
    path = _write(tmp_path / "nowcs.fits", np.zeros((8, 8), np.float32))
    ((_, kwargs, _),) = _read(path)
    assert "affine" not in kwargs and "scale" not in kwargs
    assert kwargs["metadata"]["wcs"] is None
    assert _layers.session_sky_origin() is None
    assert any("nowcs.fits[0]" in msg and "no celestial WCS" in msg for msg in shown)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"GIF89a not a fits file" * 200, "not a valid FITS file"),
        (None, "truncated or corrupt"),
    ],
)
def test_reader_bad_files_raise_a_clear_error(tmp_path, content, problem):
    path = tmp_path / "bad.fits"
    if content is None:
        full = tmp_path / "full.fits"
        _write(full, np.ones((64, 64), np.float32))
        content = full.read_bytes()[: 2880 + 4000]
    path.write_bytes(content)
    reader = get_reader(str(path))
    with pytest.raises(FitsReadError, match=rf"bad\.fits: {problem}"):
        reader(str(path))


def test_overlay_of_ground_and_space_images(tmp_path, make_napari_viewer):
    """A source at a known sky position has the same world coordinate in both layers."""
    star = SkyCoord(CENTER.ra + 0.37 * u.arcsec / np.cos(CENTER.dec), CENTER.dec - 0.52 * u.arcsec)
    ground_wcs = geometry.make_tan_wcs(center=CENTER, pixel_scale=SUBARU, shape=(48, 48))
    space_center = SkyCoord(CENTER.ra - 0.4 * u.arcsec, CENTER.dec + 0.25 * u.arcsec)
    space_wcs = geometry.make_tan_wcs(
        center=space_center, pixel_scale=HST, shape=(256, 256), rotation_deg=8.0
    )
    gx, gy = ground_wcs.world_to_pixel(star)
    sx, sy = space_wcs.world_to_pixel(star)
    _write(tmp_path / "ground.fits", _gaussian((48, 48), float(gy), float(gx), 3.0), ground_wcs)
    _write(tmp_path / "space.fits", _gaussian((256, 256), float(sy), float(sx), 4.0), space_wcs)

    viewer = make_napari_viewer()
    ground = viewer.open(str(tmp_path / "ground.fits"), plugin=PLUGIN)[0]
    space = viewer.open(str(tmp_path / "space.fits"), plugin=PLUGIN)[0]
    assert ground.name == "ground.fits[0]" and space.name == "space.fits[0]"

    def world_centroid(layer):
        img = np.asarray(layer.data, dtype=float)
        yy, xx = np.indices(img.shape)
        row, col = (yy * img).sum() / img.sum(), (xx * img).sum() / img.sum()
        return np.asarray(layer.data_to_world([row, col]))

    w_ground, w_space = world_centroid(ground), world_centroid(space)
    assert np.hypot(*(w_ground - w_space)) < HST / 2
    # And both agree with the star's true offset from the session origin.
    dra, ddec = _layers.session_sky_origin().spherical_offsets_to(star)
    truth = np.array([ddec.to_value(u.arcsec), -dra.to_value(u.arcsec)])
    assert np.hypot(*(w_space - truth)) < HST / 2
    assert np.hypot(*(w_ground - truth)) < HST / 2
    _layers.orient_north_up(viewer)
    assert [str(o.value) for o in viewer.scene.camera.orientation[1:]] == ["up", "right"]


def test_writer_round_trip_and_moved_layer(tmp_path, make_napari_viewer):
    data = _gaussian((40, 30), 20.0, 12.0, 2.0)
    wcs = geometry.make_tan_wcs(center=CENTER, pixel_scale=SUBARU, shape=data.shape, rotation_deg=15)
    src = _write(tmp_path / "src.fits", data, wcs)
    with fits.open(src, mode="update") as hdul:
        hdul[0].header["OBJECT"] = "NGC 0000"
    viewer = make_napari_viewer()
    layer = viewer.open(str(src), plugin=PLUGIN)[0]

    # Unmoved: the same data and the same WCS come back.
    out = tmp_path / "saved.fits"
    assert viewer.layers.save(str(out), selected=False, plugin=PLUGIN) == [str(out)]
    saved = read_image(out)
    np.testing.assert_array_equal(saved.data, data)
    assert saved.header["OBJECT"] == "NGC 0000"
    assert any(str(h).startswith("seeinggan ") for h in saved.header["HISTORY"])
    x, y = np.array([0.0, 29.0, 7.5]), np.array([0.0, 39.0, 22.0])
    assert wcs.pixel_to_world(x, y).separation(saved.wcs.pixel_to_world(x, y)).arcsec.max() < 1e-4

    # Moved 2 arcsec north in world coordinates: every saved pixel is 2 arcsec further north.
    original = np.asarray(layer.affine.affine_matrix).copy()
    shifted = original.copy()
    shifted[0, -1] += 2.0
    layer.affine = shifted
    _, geo_wcs, scale = _layers.layer_geometry(layer)
    assert scale == pytest.approx(SUBARU, rel=1e-6)
    moved = tmp_path / "moved.fits"
    write_fits(str(moved), *layer.as_layer_data_tuple()[:2])
    moved_wcs = read_image(moved).wcs
    for check in (moved_wcs, geo_wcs):
        before, after = wcs.pixel_to_world(x, y), check.pixel_to_world(x, y)
        dra, ddec = before.spherical_offsets_to(after)
        np.testing.assert_allclose(ddec.to_value(u.arcsec), 2.0, atol=1e-3)
        np.testing.assert_allclose(dra.to_value(u.arcsec), 0.0, atol=1e-3)

    # napari's translate acts before the affine, in data pixels: 3 rows up (+y) on the sky.
    layer.affine = original
    layer.translate = (3.0, 0.0)
    nudged = tmp_path / "nudged.fits"
    write_fits(str(nudged), *layer.as_layer_data_tuple()[:2])
    nudged_wcs = read_image(nudged).wcs
    assert wcs.pixel_to_world(x, y + 3).separation(nudged_wcs.pixel_to_world(x, y)).arcsec.max() < 1e-4

    # Never over an existing file.
    with pytest.raises(FitsWriteError, match=r"saved\.fits: file exists"):
        write_fits(str(out), *layer.as_layer_data_tuple()[:2])


def test_writer_refuses_non_image_data(tmp_path):
    with pytest.raises(FitsWriteError, match=r"points\.fits: layer 'pts' is not a 2-D image"):
        write_fits(str(tmp_path / "points.fits"), np.zeros((5, 2, 2, 2)), {"name": "pts"})
    with pytest.raises(FitsWriteError, match="not a 2-D image"):
        write_fits(str(tmp_path / "rgb.fits"), np.zeros((4, 4, 3)), {"name": "rgb", "rgb": True})
    assert not (tmp_path / "points.fits").exists()


def test_layer_geometry_and_result_layers_overlay(tmp_path, make_napari_viewer):
    data = _gaussian((30, 30), 14.5, 14.5, 2.0)
    wcs = geometry.make_tan_wcs(center=CENTER, pixel_scale=SUBARU, shape=data.shape)
    viewer = make_napari_viewer()
    ground = viewer.open(str(_write(tmp_path / "g.fits", data, wcs)), plugin=PLUGIN)[0]
    got_data, got_wcs, got_scale = _layers.layer_geometry(ground)
    assert got_data is ground.data and got_wcs is ground.metadata["wcs"]
    assert got_scale == pytest.approx(SUBARU)

    # A dock's result on a 4x finer grid, added with the helper, overlays the input.
    factor = 4
    fine = geometry.zoom_to_scale(data, factor=factor)
    fine_wcs = geometry.upsampled_wcs(wcs, factor, data.shape)
    result = viewer._add_layer_from_data(
        *_layers.layer_data_from_array(fine, wcs=fine_wcs, name="g deblurred")
    )[0]
    corner_in = ground.data_to_world([-0.5, -0.5])
    corner_out = result.data_to_world([-0.5, -0.5])
    np.testing.assert_allclose(corner_in, corner_out, atol=1e-6)
    assert _layers.layer_geometry(result)[2] == pytest.approx(SUBARU / factor)

    # A plain napari layer (no FITS): no WCS, no scale, data as is.
    plain = viewer.add_image(np.zeros((5, 5)))
    assert _layers.layer_geometry(plain)[1:] == (None, None)


def test_zscale_limits_ignore_nan_and_inf():
    data = np.random.default_rng(5).normal(0.0, 1.0, (200, 200))
    data[::7, ::3] = np.nan
    data[1, 1], data[2, 2] = np.inf, -np.inf
    low, high = _layers.zscale_limits(data)
    assert -4 < low < -0.5 and 0.5 < high < 4
    assert _layers.zscale_limits(np.full((4, 4), np.nan)) == (0.0, 1.0)
    assert _layers.zscale_limits(np.full((4, 4), 3.0)) == (3.0, 4.0)


def test_napari_open_of_a_bad_file_raises_our_message(tmp_path, make_napari_viewer):
    """napari re-raises a reader's error (wrapped as ReaderPluginError when it chose the reader
    itself, with our message after 'Original error from plugin'); nothing is added."""
    path = tmp_path / "junk.fits"
    path.write_bytes(b"\x00\x01 definitely not FITS" * 300)
    viewer = make_napari_viewer()
    with pytest.raises(FitsReadError, match=r"junk\.fits: not a valid FITS file"):
        viewer.open(str(path), plugin=PLUGIN)
    assert len(viewer.layers) == 0


def test_memory_mapped_big_endian_layer_displays(tmp_path, make_napari_viewer, monkeypatch):
    from seeinggan.io import fits as sfits

    monkeypatch.setattr(sfits, "MEMMAP_THRESHOLD_BYTES", 1000)
    data = _gaussian((64, 64), 30.0, 20.0, 5.0)
    wcs = geometry.make_tan_wcs(center=CENTER, pixel_scale=HST, shape=data.shape)
    path = _write(tmp_path / "big.fits", data, wcs)
    viewer = make_napari_viewer(show=True)
    mapped = viewer.open(str(path), plugin=PLUGIN)[0]
    assert mapped.metadata["memory_mapped"] and not mapped.data.dtype.isnative
    shot_mapped = viewer.screenshot(canvas_only=True, flash=False)
    mapped.visible = False
    viewer._add_layer_from_data(
        *_layers.layer_data_from_array(
            np.asarray(mapped.data, dtype=np.float32), wcs=wcs, name="native copy",
            contrast_limits=mapped.contrast_limits,
        )
    )
    shot_native = viewer.screenshot(canvas_only=True, flash=False)
    assert shot_mapped[..., :3].max() > 0
    np.testing.assert_array_equal(shot_mapped, shot_native)


def test_files_of_the_same_name_are_both_named_after_their_folder(tmp_path, make_napari_viewer):
    """`seeinggan simulate` writes ground/sim_00001.fits and space/sim_00001.fits: opened one
    after the other, both layers say where they come from (not only the second)."""
    from _dock_helpers import sky_image

    _layers.reset_session_sky_origin()
    viewer = make_napari_viewer()
    for folder, scale in (("ground", 0.202), ("space", 0.03)):
        (tmp_path / folder).mkdir()
        data, wcs = sky_image((24, 24), pixel_scale=scale)
        fits.PrimaryHDU(data, header=wcs.to_header()).writeto(tmp_path / folder / "sim_00001.fits")
    [ground] = viewer.open(str(tmp_path / "ground" / "sim_00001.fits"), plugin="napari-seeinggan")
    assert ground.name == "sim_00001.fits[0]"  # no clash yet: the plain name
    [space] = viewer.open(str(tmp_path / "space" / "sim_00001.fits"), plugin="napari-seeinggan")
    assert (ground.name, space.name) == ("ground/sim_00001.fits[0]", "space/sim_00001.fits[0]")
    assert [layer.name for layer in viewer.layers] == ["ground/sim_00001.fits[0]",
                                                       "space/sim_00001.fits[0]"]
    # Opening the same file again is no clash of folders: napari numbers the copy.
    [again] = viewer.open(str(tmp_path / "space" / "sim_00001.fits"), plugin="napari-seeinggan")
    assert ground.name == "ground/sim_00001.fits[0]" and again.name.startswith("space/sim_00001")
    _layers.reset_session_sky_origin()
