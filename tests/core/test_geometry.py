"""seeinggan.geometry: WCS arithmetic, resampling (flux, NaN, footprint) and napari sky affines."""

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from seeinggan import geometry

CENTER = SkyCoord(150.1 * u.deg, 2.2 * u.deg)
HST, SUBARU = 0.03, 0.202


def _gaussian(shape, y0, x0, sigma, flux=1000.0):
    yy, xx = np.indices(shape, dtype=float)
    g = np.exp(-0.5 * (((yy - y0) / sigma) ** 2 + ((xx - x0) / sigma) ** 2))
    return (flux * g / g.sum()).astype(np.float32)


def _centroid(img):
    yy, xx = np.indices(img.shape)
    w = np.where(np.isfinite(img), img, 0.0)
    return float((yy * w).sum() / w.sum()), float((xx * w).sum() / w.sum())


def test_make_tan_wcs_centre_scale_and_orientation():
    wcs = geometry.make_tan_wcs(center=CENTER, pixel_scale=HST, shape=(100, 80))
    assert geometry.pixel_scale(wcs) == pytest.approx(HST, rel=1e-9)
    assert wcs.pixel_to_world(39.5, 49.5).separation(CENTER).arcsec < 1e-9
    assert wcs.pixel_shape == (80, 100)
    # North up (+y), east left (-x): one pixel up raises Dec, one pixel right lowers RA.
    up, right = wcs.pixel_to_world(39.5, 50.5), wcs.pixel_to_world(40.5, 49.5)
    assert (up.dec - CENTER.dec).to_value(u.arcsec) == pytest.approx(HST, rel=1e-6)
    assert CENTER.position_angle(right).deg == pytest.approx(270.0, abs=1e-6)


def test_make_tan_wcs_rotation_is_east_of_north():
    wcs = geometry.make_tan_wcs(center=CENTER, pixel_scale=0.2, shape=(50, 50), rotation_deg=30)
    up = wcs.pixel_to_world(24.5, 34.5)  # ten pixels along +y
    assert CENTER.position_angle(up).deg == pytest.approx(30.0, abs=1e-3)
    assert CENTER.separation(up).arcsec == pytest.approx(2.0, rel=1e-5)


def test_celestial_wcs_from_header_and_none_without():
    wcs = geometry.make_tan_wcs(center=CENTER, pixel_scale=SUBARU, shape=(40, 30))
    header = wcs.to_header()
    header["NAXIS1"], header["NAXIS2"] = 30, 40
    back = geometry.celestial_wcs(header)
    assert back.pixel_shape == (30, 40)
    assert geometry.pixel_scale(back) == pytest.approx(SUBARU)
    assert geometry.celestial_wcs(fits.Header({"OBJECT": "x"})) is None
    linear = fits.Header({"CTYPE1": "LINEAR", "CTYPE2": "LINEAR", "CDELT1": 1.0, "CDELT2": 1.0})
    assert geometry.celestial_wcs(linear) is None


@pytest.mark.parametrize("factor", [2, 5, SUBARU / HST])
def test_upsampled_wcs_same_footprint_aligned_edges(factor):
    shape = (21, 17)
    wcs = geometry.make_tan_wcs(center=CENTER, pixel_scale=SUBARU, shape=shape, rotation_deg=12)
    fine = geometry.upsampled_wcs(wcs, factor, shape)
    assert geometry.pixel_scale(fine) == pytest.approx(SUBARU / factor, rel=1e-9)
    rows, cols = shape
    # Outer corners of the input grid (pixel edges) against the same edges on the fine grid.
    edges_in = np.array([[-0.5, -0.5], [cols - 0.5, -0.5], [-0.5, rows - 0.5], [cols - 0.5, rows - 0.5]])
    edges_out = (edges_in + 0.5) * factor - 0.5
    a = wcs.pixel_to_world(edges_in[:, 0], edges_in[:, 1])
    b = fine.pixel_to_world(edges_out[:, 0], edges_out[:, 1])
    assert a.separation(b).arcsec.max() < 1e-6
    assert fine.pixel_shape == (round(cols * factor), round(rows * factor))
    if float(factor).is_integer():
        assert geometry.upsampled_shape(shape, factor) == (rows * factor, cols * factor)
        # The centre of input pixel (0, 0) is the centre of the middle fine sub-pixel block.
        mid = (factor - 1) / 2
        assert wcs.pixel_to_world(0, 0).separation(fine.pixel_to_world(mid, mid)).arcsec < 1e-6


def test_upsampled_wcs_keeps_sip_distortion():
    header = geometry.make_tan_wcs(center=CENTER, pixel_scale=SUBARU, shape=(64, 64)).to_header()
    header["CTYPE1"], header["CTYPE2"] = "RA---TAN-SIP", "DEC--TAN-SIP"
    header["A_ORDER"], header["B_ORDER"] = 2, 2
    header["A_2_0"], header["B_0_2"], header["A_1_1"] = 2e-4, -1e-4, 5e-5
    from astropy.wcs import WCS

    wcs = WCS(header)
    fine = geometry.upsampled_wcs(wcs, 4)
    x, y = np.array([0.0, 63.0, 10.0]), np.array([0.0, 63.0, 50.0])
    a = wcs.pixel_to_world(x, y)
    b = fine.pixel_to_world((x + 0.5) * 4 - 0.5, (y + 0.5) * 4 - 0.5)
    assert a.separation(b).arcsec.max() < 1e-6


@pytest.mark.parametrize("factor", [2.0, SUBARU / HST, 0.5, HST / SUBARU * 2])
def test_zoom_to_scale_conserves_flux_and_position(factor):
    shape = (60, 64)
    sigma = 3.0 if factor >= 1 else 6.0
    img = _gaussian(shape, 28.3, 33.7, sigma)
    out = geometry.zoom_to_scale(img, factor=factor)
    assert out.shape == geometry.upsampled_shape(shape, factor)
    assert out.dtype == np.float32
    assert out.sum() == pytest.approx(img.sum(), rel=0.01)
    cy, cx = _centroid(out)
    # Edge-aligned map: input position p sits at output (p + 0.5) * f - 0.5.
    assert cy == pytest.approx((28.3 + 0.5) * factor - 0.5, abs=0.05 * max(factor, 1))
    assert cx == pytest.approx((33.7 + 0.5) * factor - 0.5, abs=0.05 * max(factor, 1))
    sb = geometry.zoom_to_scale(img, factor=factor, conserve="surface_brightness")
    np.testing.assert_allclose(sb, out * factor**2, rtol=1e-5, atol=1e-6)


def test_resample_ground_onto_space_grid_flux_and_position():
    ground_shape, space_shape = (40, 40), (256, 256)
    ground_wcs = geometry.make_tan_wcs(center=CENTER, pixel_scale=SUBARU, shape=ground_shape)
    space_wcs = geometry.make_tan_wcs(
        center=CENTER, pixel_scale=HST, shape=space_shape, rotation_deg=20
    )
    star = SkyCoord(CENTER.ra + 0.8 * u.arcsec / np.cos(CENTER.dec), CENTER.dec - 0.5 * u.arcsec)
    gx, gy = ground_wcs.world_to_pixel(star)
    ground = _gaussian(ground_shape, float(gy), float(gx), 2.0)
    out = geometry.resample_to_grid(ground, ground_wcs, space_wcs, space_shape)
    assert out.shape == space_shape
    assert np.nansum(out) == pytest.approx(ground.sum(), rel=0.01)
    cy, cx = _centroid(out)
    back = space_wcs.pixel_to_world(cx, cy)
    assert back.separation(star).arcsec < HST / 2
    # And down again (space -> ground): pixel integration keeps the total.
    down = geometry.resample_to_grid(np.nan_to_num(out), space_wcs, ground_wcs, ground_shape)
    assert np.nansum(down) == pytest.approx(ground.sum(), rel=0.01)


def test_resample_identity_is_exact():
    wcs = geometry.make_tan_wcs(center=CENTER, pixel_scale=SUBARU, shape=(30, 30))
    img = np.random.default_rng(0).random((30, 30)).astype(np.float32)
    out = geometry.resample_to_grid(img, wcs, wcs, (30, 30))
    np.testing.assert_allclose(out, img, atol=1e-5)


def test_resample_nan_spreads_only_over_spline_support_and_outside_is_nan():
    shape = (40, 40)
    src = geometry.make_tan_wcs(center=CENTER, pixel_scale=0.1, shape=shape)
    # Destination: same scale, shifted 10 pixels so that its left part lies outside the source.
    dst = geometry.make_tan_wcs(
        center=src.pixel_to_world(19.5 - 10, 19.5), pixel_scale=0.1, shape=shape
    )
    img = np.ones(shape, np.float32)
    img[20, 25] = np.nan
    out = geometry.resample_to_grid(img, src, dst, shape, conserve="surface_brightness")
    # Outside the source: columns whose source position is < -0.5.
    assert np.isnan(out[:, :9]).all()
    inside = out[:, 11:]
    bad = ~np.isfinite(inside)
    rows, cols = np.nonzero(bad)
    # The NaN at source (20, 25) is destination (20, 35): only points closer than the cubic's
    # support (2 pixels) are affected, i.e. the 3x3 block on this aligned grid.
    assert bad.sum() > 0
    assert np.abs(rows - 20).max() <= 1 and np.abs(cols + 11 - 35).max() <= 1
    # No ringing from the gap: the rest keeps the value 1.
    np.testing.assert_allclose(inside[~bad], 1.0, atol=1e-4)


def test_zoom_nan_region_grows_by_at_most_the_support():
    img = np.ones((30, 30), np.float32)
    img[10:12, 10:12] = np.nan
    out = geometry.zoom_to_scale(img, factor=4, conserve="surface_brightness")
    rows, cols = np.nonzero(np.isnan(out))
    # Source pixels 10..11 span output 40..47; two source pixels of support = 8 output pixels.
    assert rows.min() >= 40 - 8 and rows.max() <= 47 + 8
    assert cols.min() >= 40 - 8 and cols.max() <= 47 + 8
    np.testing.assert_allclose(out[np.isfinite(out)], 1.0, atol=1e-5)


def test_cube_resampled_plane_by_plane():
    cube = np.stack([_gaussian((20, 20), 9.5, 9.5, 2.0, flux=f) for f in (10.0, 20.0)])
    out = geometry.zoom_to_scale(cube, factor=3)
    assert out.shape == (2, 60, 60)
    assert out[1].sum() == pytest.approx(20.0, rel=0.01)


@pytest.mark.parametrize("rotation", [0.0, 37.0])
@pytest.mark.parametrize("flip", [False, True])
def test_sky_affine_round_trip_rotation_and_flip(rotation, flip):
    wcs = geometry.make_tan_wcs(center=CENTER, pixel_scale=SUBARU, shape=(50, 40), rotation_deg=rotation)
    if flip:  # east to the right, as some cameras write it
        wcs.wcs.cd = wcs.wcs.cd @ np.diag([-1.0, 1.0])
        wcs.wcs.set()
    origin = SkyCoord(CENTER.ra + 20 * u.arcsec, CENTER.dec - 30 * u.arcsec)
    affine = geometry.sky_affine(wcs, origin=origin, shape=(50, 40))
    assert abs(np.linalg.det(affine[:2, :2])) == pytest.approx(SUBARU**2, rel=1e-6)
    # A known sky position lands at its (north, west) offset from the origin.
    star = wcs.pixel_to_world(31.0, 7.0)  # (x, y) -> row 7, col 31
    world = affine @ np.array([7.0, 31.0, 1.0])
    dra, ddec = origin.spherical_offsets_to(star)
    assert world[0] == pytest.approx(ddec.to_value(u.arcsec), abs=1e-3)
    assert world[1] == pytest.approx(-dra.to_value(u.arcsec), abs=1e-3)
    back = geometry.wcs_from_sky_affine(affine, origin=origin, shape=(50, 40))
    x, y = np.array([0.0, 39.0, 12.5]), np.array([0.0, 49.0, 30.0])
    assert wcs.pixel_to_world(x, y).separation(back.pixel_to_world(x, y)).arcsec.max() < 1e-4
    np.testing.assert_allclose(geometry.sky_affine(back, origin=origin, shape=(50, 40)), affine, atol=1e-8)


def test_same_source_same_world_coordinate_at_both_pixel_scales():
    origin = CENTER
    ground = geometry.make_tan_wcs(center=CENTER, pixel_scale=SUBARU, shape=(40, 40))
    space_center = SkyCoord(CENTER.ra + 1.1 * u.arcsec, CENTER.dec + 0.7 * u.arcsec)
    space = geometry.make_tan_wcs(center=space_center, pixel_scale=HST, shape=(256, 256), rotation_deg=5)
    a_ground = geometry.sky_affine(ground, origin=origin, shape=(40, 40))
    a_space = geometry.sky_affine(space, origin=origin, shape=(256, 256))
    star = SkyCoord(CENTER.ra - 0.9 * u.arcsec, CENTER.dec + 1.3 * u.arcsec)
    gx, gy = ground.world_to_pixel(star)
    sx, sy = space.world_to_pixel(star)
    w_ground = a_ground @ np.array([float(gy), float(gx), 1.0])
    w_space = a_space @ np.array([float(sy), float(sx), 1.0])
    assert np.hypot(*(w_ground - w_space)[:2]) < HST / 2


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="positive"):
        geometry.make_tan_wcs(center=CENTER, pixel_scale=0, shape=(2, 2))
    with pytest.raises(ValueError, match="conserve"):
        geometry.zoom_to_scale(np.ones((4, 4)), factor=2, conserve="energy")
    with pytest.raises(ValueError, match="singular"):
        geometry.wcs_from_sky_affine(np.zeros((3, 3)), origin=CENTER)


# --- sky fields: one tangent plane per field (issue 14) ------------------------------------------


def test_sky_fields_one_plane_per_field_and_sky_positions_round_trip():
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from seeinggan.geometry import SkyFields, format_sky, make_tan_wcs, sky_at_world

    fields = SkyFields()
    cosmos = make_tan_wcs(center=SkyCoord(150.1 * u.deg, 2.2 * u.deg), pixel_scale=0.2,
                          shape=(100, 100))
    near = make_tan_wcs(center=SkyCoord(150.12 * u.deg, 2.21 * u.deg), pixel_scale=0.03,
                        shape=(300, 300))
    far = make_tan_wcs(center=SkyCoord(330 * u.deg, -30 * u.deg), pixel_scale=0.2,
                       shape=(80, 120))
    f1, a1, note1 = fields.place(cosmos, (100, 100))
    f2, a2, note2 = fields.place(near, (300, 300))
    f3, a3, note3 = fields.place(far, (80, 120))
    assert f1 is f2 and note1 is None and note2 is None  # one field: they overlay
    assert f3 is not f1 and f3.number == 2 and "new sky field 2" in note3
    # The first field is about the world origin; the new one lies to its right, close by.
    assert np.allclose(a1 @ [49.5, 49.5, 1], [0, 0, 1], atol=1e-6)
    centre3 = a3 @ [39.5, 59.5, 1]
    right, width = f1.high[1], f1.high[1] - f1.low[1]  # field 1's right edge and width
    assert right == pytest.approx(10.0) and width > 80  # the 0.03" image lies 72" to the east
    assert abs(centre3[0]) < 1e-6 and centre3[1] == pytest.approx(right + 0.1 * width + 12.0)
    # Every pixel maps back to its own sky position (the status bar's arithmetic).
    for wcs, field, affine in ((cosmos, f1, a1), (near, f2, a2), (far, f3, a3)):
        for row, col in ((0, 0), (17, 42), (79, 99)):
            sky = sky_at_world((affine @ [row, col, 1])[:2], origin=field.origin,
                               offset=field.offset)
            assert sky.separation(wcs.pixel_to_world(col, row)).arcsec < 1e-3
    assert format_sky(SkyCoord(330 * u.deg, -30 * u.deg)) == \
        "22:00:00.000 -30:00:00.00 (330.000000, -30.000000)"
    fields.reset()
    f4, a4, note4 = fields.place(far, (80, 120))
    assert f4.number == 1 and note4 is None and np.allclose(a4 @ [39.5, 59.5, 1], [0, 0, 1])


def test_wcs_from_sky_affine_undoes_an_offset_plane():
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from seeinggan.geometry import make_tan_wcs, sky_affine, wcs_from_sky_affine

    wcs = make_tan_wcs(center=SkyCoord(330 * u.deg, -30 * u.deg), pixel_scale=0.2,
                       shape=(40, 60), rotation_deg=20)
    origin = SkyCoord(330.001 * u.deg, -30.001 * u.deg)
    affine = sky_affine(wcs, origin=origin, shape=(40, 60), offset=(5.0, 300.0))
    back = wcs_from_sky_affine(affine, origin=origin, shape=(40, 60), offset=(5.0, 300.0))
    assert back.pixel_to_world(13, 27).separation(wcs.pixel_to_world(13, 27)).arcsec < 1e-4


def test_pixel_scale_from_header_keywords():
    from astropy.io import fits
    from seeinggan.geometry import pixel_scale_from_header

    assert pixel_scale_from_header(fits.Header()) is None
    assert pixel_scale_from_header(fits.Header([("SECPIX", 0.26)])) == pytest.approx(0.26)
    assert pixel_scale_from_header(fits.Header([("PIXSCALE", 0.2), ("SECPIX", 0.3)])) == 0.2
    degrees = fits.Header([("CDELT1", -0.05 / 3600), ("CDELT2", 0.08 / 3600), ("CUNIT1", "deg")])
    assert pixel_scale_from_header(degrees) == pytest.approx(np.sqrt(0.05 * 0.08))
    ra = fits.Header([("CTYPE1", "RA---TAN"), ("CD1_1", -1e-4), ("CD2_2", 1e-4)])
    assert pixel_scale_from_header(ra) == pytest.approx(0.36)
    # A linear axis of unknown unit is not an angle.
    assert pixel_scale_from_header(fits.Header([("CDELT1", 2.0), ("CDELT2", 2.0)])) is None


def test_ds9_rectangles_round_trip_in_sky_and_image_coordinates(tmp_path):
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from seeinggan.geometry import make_tan_wcs
    from seeinggan.regions import read_rectangles, write_rectangles

    wcs = make_tan_wcs(center=SkyCoord(330 * u.deg, -30 * u.deg), pixel_scale=0.2,
                       shape=(100, 100))
    box = np.array([[10.0, 20.0], [40.0, 20.0], [40.0, 35.0], [10.0, 35.0]])
    path = write_rectangles(tmp_path / "sky.reg", [box], wcs=wcs)
    text = path.read_text()
    assert "icrs" in text and "box(330." in text
    (back,), notes = read_rectangles(path, wcs=wcs)
    assert notes == []
    np.testing.assert_allclose(np.sort(back, axis=0), np.sort(box, axis=0), atol=1e-3)
    # A region file written by hand in DS9 image coordinates (1-based), and a circle.
    (tmp_path / "image.reg").write_text(
        "# Region file format: DS9\nimage\nbox(26,28,30,16,0)\ncircle(50,50,5)\n")
    (rect, square), notes = read_rectangles(tmp_path / "image.reg")
    np.testing.assert_allclose(rect.min(axis=0), [10, 19.0])
    np.testing.assert_allclose(rect.max(axis=0), [40, 35.0])
    assert "CirclePixelRegion taken as its bounding box" in notes[0]
    assert np.ptp(square[:, 0]) == pytest.approx(10, abs=1)
    with pytest.raises(ValueError, match="no rectangle, polygon or other shape"):
        (tmp_path / "bad.reg").write_text("this is not a region file(")
        read_rectangles(tmp_path / "bad.reg")
