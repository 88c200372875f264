"""seeinggan.io.fits: every reader case on files the tests write, and the writer."""

import gzip
import mmap
import shutil

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table
from seeinggan import geometry
from seeinggan.io import fits as sfits
from seeinggan.io.fits import FitsReadError, FitsWriteError, read_image, read_images, write_image

CENTER = SkyCoord(150.1 * u.deg, 2.2 * u.deg)


def _wcs(shape, scale=0.202):
    return geometry.make_tan_wcs(center=CENTER, pixel_scale=scale, shape=shape)


def test_plain_image_with_wcs(tmp_path):
    data = np.arange(30 * 40, dtype=np.float32).reshape(30, 40)
    path = tmp_path / "plain.fits"
    fits.PrimaryHDU(data, header=_wcs(data.shape).to_header()).writeto(path)
    (image,) = read_images(path)
    assert image.name == "plain.fits[0]"
    assert image.hdu_index == 0
    assert image.data.dtype == np.float32 and image.data.dtype.isnative
    np.testing.assert_array_equal(image.data, data)
    assert image.pixel_scale == pytest.approx(0.202, rel=1e-9)
    sky = image.wcs.pixel_to_world(19.5, 14.5)
    assert sky.separation(CENTER).arcsec < 1e-6


def test_multi_extension_file_skips_empty_primary_and_names_by_extname(tmp_path):
    path = tmp_path / "mef.fits"
    sci = np.ones((8, 9), np.float32)
    wht = np.full((8, 9), 2.0, np.float32)
    fits.HDUList(
        [fits.PrimaryHDU(), fits.ImageHDU(sci, name="SCI"), fits.ImageHDU(wht, name="WHT"),
         fits.ImageHDU(np.zeros((3, 3), np.float32))]
    ).writeto(path)
    images = read_images(path)
    assert [im.name for im in images] == ["mef.fits[SCI]", "mef.fits[WHT]", "mef.fits[3]"]
    assert [im.hdu_index for im in images] == [1, 2, 3]
    assert float(images[1].data.mean()) == 2.0
    assert read_image(path, hdu="wht").hdu_index == 2
    assert read_image(path, hdu=3).data.shape == (3, 3)
    with pytest.raises(FitsReadError, match=r"mef\.fits.*no image HDU 'NOPE'"):
        read_image(path, hdu="NOPE")


def test_tile_compressed_fz(tmp_path):
    rng = np.random.default_rng(1)
    data = rng.normal(100.0, 5.0, (64, 48)).astype(np.float32)
    path = tmp_path / "comp.fits.fz"
    fits.HDUList(
        [fits.PrimaryHDU(), fits.CompImageHDU(data, header=_wcs(data.shape).to_header(), name="SCI")]
    ).writeto(path)
    (image,) = read_images(path)
    assert image.name == "comp.fits.fz[SCI]"
    # Lossy float quantisation: values agree within a small fraction of the noise.
    assert np.abs(image.data - data).max() < 0.5
    assert image.pixel_scale == pytest.approx(0.202)
    assert not image.memory_mapped


def test_compressed_scaled_integers(tmp_path):
    raw = np.arange(16 * 16, dtype=np.int16).reshape(16, 16)
    hdu = fits.CompImageHDU(raw.copy(), name="SCI")
    hdu.scale("int16", bscale=0.5, bzero=3.0)
    path = tmp_path / "scaled.fits.fz"
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    (image,) = read_images(path)
    np.testing.assert_allclose(image.data, raw, atol=0.5)


def test_gzip_file(tmp_path):
    data = np.linspace(0, 1, 20 * 10, dtype=np.float32).reshape(20, 10)
    plain = tmp_path / "img.fits"
    fits.PrimaryHDU(data).writeto(plain)
    gz = tmp_path / "img.fits.gz"
    with open(plain, "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    (image,) = read_images(gz)
    assert image.name == "img.fits.gz[0]"
    np.testing.assert_array_equal(image.data, data)
    assert image.data.dtype == np.float32 and image.data.dtype.isnative


def test_cube_stays_3d_with_celestial_wcs(tmp_path):
    cube = np.random.default_rng(2).random((4, 12, 10)).astype(np.float32)
    header = _wcs(cube.shape[1:], scale=0.03).to_header()
    header["CTYPE3"] = "WAVE"
    header["CRVAL3"] = 5000.0
    header["CDELT3"] = 10.0
    header["CRPIX3"] = 1.0
    header["CUNIT3"] = "Angstrom"
    path = tmp_path / "cube.fits"
    fits.PrimaryHDU(cube, header=header).writeto(path)
    (image,) = read_images(path)
    assert image.data.shape == (4, 12, 10)
    assert image.wcs.naxis == 2
    assert image.pixel_scale == pytest.approx(0.03)


def test_table_hdu_skipped_with_a_note(tmp_path):
    path = tmp_path / "withtable.fits"
    table = fits.BinTableHDU(Table({"a": [1, 2, 3]}), name="CAT")
    fits.HDUList([fits.PrimaryHDU(np.ones((5, 5), np.float32)), table]).writeto(path)
    (image,) = read_images(path)
    assert any("HDU 1 (CAT, BinTableHDU)" in note for note in image.notes)


def test_only_tables_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "onlytable.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU(Table({"a": [1.0]}), name="CAT")]).writeto(
        path
    )
    with pytest.raises(FitsReadError, match=r"onlytable\.fits: no image data.*CAT"):
        read_images(path)


def test_big_endian_integers_with_bscale_bzero(tmp_path):
    raw = np.array([[-32768, -1, 0], [1, 100, 32767]], dtype=">i2")
    path = tmp_path / "scaled.fits"
    header = fits.Header()
    hdu = fits.PrimaryHDU(raw, header=header, do_not_scale_image_data=True)
    hdu.header["BSCALE"] = 0.25
    hdu.header["BZERO"] = 1000.0
    hdu.header["BLANK"] = -32768
    hdu.writeto(path)
    # The file really is big-endian 16-bit with scaling keywords.
    assert fits.getheader(path)["BITPIX"] == 16
    (image,) = read_images(path)
    assert image.data.dtype == np.float32 and image.data.dtype.isnative
    expected = raw.astype(np.float64) * 0.25 + 1000.0
    expected[0, 0] = np.nan  # BLANK
    np.testing.assert_array_equal(image.data, expected.astype(np.float32))
    assert "BSCALE" not in image.header and "BZERO" not in image.header


def test_unsigned_16_bit_via_bzero(tmp_path):
    data = np.array([[0, 1, 65535]], dtype=np.uint16)
    path = tmp_path / "u16.fits"
    fits.PrimaryHDU(data).writeto(path)  # astropy stores uint16 as int16 + BZERO 32768
    (image,) = read_images(path)
    np.testing.assert_array_equal(image.data, data.astype(np.float32))


def test_int32_beyond_float32_precision_stays_float64(tmp_path):
    data = np.array([[2**30 + 1, 2**30 + 2], [0, 5]], dtype=np.int32)
    path = tmp_path / "i32.fits"
    fits.PrimaryHDU(data).writeto(path)
    (image,) = read_images(path)
    assert image.data.dtype == np.float64
    np.testing.assert_array_equal(image.data, data)


def test_float64_kept_only_when_needed(tmp_path):
    plain = np.linspace(-5, 5, 12).reshape(3, 4)
    fits.PrimaryHDU(plain).writeto(tmp_path / "f64.fits")
    assert read_image(tmp_path / "f64.fits").data.dtype == np.float32
    # A large offset with tiny variations: float32 would round the variations away.
    offset = 51544.0 + np.arange(12).reshape(3, 4) * 1e-6
    fits.PrimaryHDU(offset).writeto(tmp_path / "mjd.fits")
    image = read_image(tmp_path / "mjd.fits")
    assert image.data.dtype == np.float64
    np.testing.assert_array_equal(image.data, offset)


def test_nan_and_inf_are_kept(tmp_path):
    data = np.ones((4, 4), np.float32)
    data[0, 0], data[1, 1], data[2, 2] = np.nan, np.inf, -np.inf
    fits.PrimaryHDU(data).writeto(tmp_path / "nan.fits")
    image = read_image(tmp_path / "nan.fits")
    assert np.isnan(image.data[0, 0]) and image.data[1, 1] == np.inf and image.data[2, 2] == -np.inf


def test_no_celestial_wcs_gives_a_note(tmp_path):
    fits.PrimaryHDU(np.zeros((6, 6), np.float32)).writeto(tmp_path / "nowcs.fits")
    image = read_image(tmp_path / "nowcs.fits")
    assert image.wcs is None and image.pixel_scale is None
    assert any("no celestial WCS" in note for note in image.notes)


@pytest.mark.parametrize(
    ("keywords", "why"),
    [
        ({"CTYPE1": "RA---XYZ", "CDELT1": -1e-5, "CDELT2": 1e-5}, "Unrecognized projection"),
        ({"CD1_1": 1e-5, "CD1_2": 1e-5, "CD2_1": 1e-5, "CD2_2": 1e-5}, "singular"),
    ],
)
def test_broken_wcs_keywords_give_a_note_not_a_crash(tmp_path, keywords, why):
    header = fits.Header()
    header.update({"CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN", "CRVAL1": 10.0, "CRVAL2": 20.0})
    header.update(keywords)
    fits.PrimaryHDU(np.zeros((6, 6), np.float32), header=header).writeto(tmp_path / "badwcs.fits")
    image = read_image(tmp_path / "badwcs.fits")
    assert image.wcs is None
    assert any(note.startswith("WCS ignored") and why in note for note in image.notes)


def test_truncated_file_error_names_file(tmp_path):
    path = tmp_path / "full.fits"
    fits.PrimaryHDU(np.ones((100, 100), np.float32)).writeto(path)
    cut = tmp_path / "truncated.fits"
    cut.write_bytes(path.read_bytes()[: 2880 + 5000])
    with pytest.raises(FitsReadError, match=r"truncated\.fits: truncated or corrupt"):
        read_images(cut)


def test_garbage_and_header_errors_name_file(tmp_path):
    garbage = tmp_path / "garbage.fits"
    garbage.write_bytes(b"this is not a FITS file\n" * 200)
    with pytest.raises(FitsReadError, match=r"garbage\.fits: not a valid FITS file"):
        read_images(garbage)
    # A header block that stops before END: astropy cannot parse it.
    cut = tmp_path / "halfheader.fits"
    src = tmp_path / "src.fits"
    fits.PrimaryHDU(np.ones((4, 4), np.float32)).writeto(src)
    cut.write_bytes(src.read_bytes()[:1000])
    with pytest.raises(FitsReadError, match=r"halfheader\.fits"):
        read_images(cut)
    with pytest.raises(FitsReadError, match=r"missing\.fits: no such file"):
        read_images(tmp_path / "missing.fits")


def _backed_by_mmap(array) -> bool:
    base = array
    while base is not None:
        if isinstance(base, mmap.mmap):
            return True
        base = getattr(base, "base", None)
    return False


def test_large_float_file_is_memory_mapped_in_file_byte_order(tmp_path, monkeypatch):
    monkeypatch.setattr(sfits, "MEMMAP_THRESHOLD_BYTES", 1000)
    data = np.random.default_rng(3).random((64, 64)).astype(np.float32)
    path = tmp_path / "large.fits"
    fits.PrimaryHDU(data).writeto(path)
    image = read_image(path)
    assert image.memory_mapped
    assert _backed_by_mmap(image.data)
    assert not image.data.dtype.isnative  # documented: converting would read the whole file
    assert any("memory-mapped" in note for note in image.notes)
    np.testing.assert_array_equal(np.asarray(image.data[10:20], dtype=np.float32), data[10:20])


def test_write_round_trip_with_wcs_and_history(tmp_path):
    data = np.random.default_rng(4).random((20, 30)).astype(np.float32)
    wcs = geometry.make_tan_wcs(center=CENTER, pixel_scale=0.03, shape=data.shape, rotation_deg=30)
    header = fits.Header()
    header["OBJECT"] = "test galaxy"
    header["CRVAL1"] = 1.0  # stale WCS keyword: must be replaced by wcs
    path = write_image(tmp_path / "out.fits", data, header=header, wcs=wcs, history="deblurred")
    image = read_image(path)
    np.testing.assert_array_equal(image.data, data)
    assert image.header["OBJECT"] == "test galaxy"
    history = [str(h) for h in image.header["HISTORY"]]
    assert any(h.startswith("seeinggan ") and h.endswith(": deblurred") for h in history)
    x, y = np.array([0, 29, 12.3]), np.array([0, 19, 7.7])
    a = wcs.pixel_to_world(x, y)
    b = image.wcs.pixel_to_world(x, y)
    assert a.separation(b).arcsec.max() < 1e-6


def test_write_refuses_to_overwrite_unless_asked(tmp_path):
    path = tmp_path / "exists.fits"
    write_image(path, np.zeros((3, 3)))
    with pytest.raises(FitsWriteError, match=r"exists\.fits: file exists"):
        write_image(path, np.ones((3, 3)))
    assert read_image(path).data.max() == 0.0
    write_image(path, np.ones((3, 3)), overwrite=True)
    assert read_image(path).data.max() == 1.0


def test_write_refuses_non_image_data(tmp_path):
    with pytest.raises(FitsWriteError, match=r"vec\.fits: can only write 2-D images"):
        write_image(tmp_path / "vec.fits", np.zeros(5))


def test_derived_header_keeps_cards_minus_the_old_grid():
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from seeinggan import geometry
    from seeinggan.io.fits import derived_header

    wcs = geometry.make_tan_wcs(center=SkyCoord(10 * u.deg, 20 * u.deg), pixel_scale=0.2,
                                shape=(10, 10))
    header = wcs.to_header()
    header["BITPIX"] = 16
    header["BSCALE"] = 2.0
    header["BUNIT"] = "nanomaggy"
    header["MAGZP"] = 22.5
    header["PIXSCALE"] = 0.2
    header["SEEING"] = 1.0
    header["LTV1"] = 5.0
    header["COMMENT"] = "a comment"
    header["HISTORY"] = "bias subtracted"
    finer = geometry.upsampled_wcs(wcs, 0.2 / 0.03, (10, 10))
    out = derived_header(header, wcs=finer, history=["deblurred"])
    assert out["BUNIT"] == "nanomaggy" and out["MAGZP"] == 22.5
    for key in ("BITPIX", "BSCALE", "PIXSCALE", "SEEING", "LTV1"):
        assert key not in out, key
    assert "a comment" in str(out["COMMENT"])
    assert list(out["HISTORY"])[0] == "bias subtracted"
    assert list(out["HISTORY"])[-1].endswith(": deblurred")
    rebuilt = geometry.celestial_wcs(out)
    assert geometry.pixel_scale(rebuilt) == pytest.approx(0.03)
    # The same grid (a copy, a cut-out): the grid's keywords stay.
    same = derived_header(header, history="copied", new_grid=False)
    assert same["PIXSCALE"] == 0.2 and same["SEEING"] == 1.0 and "CRVAL1" in same
