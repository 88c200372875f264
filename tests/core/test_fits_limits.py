"""Reading with limits: no FITS file hangs, allocates without bound or fails with another error.

The three hang cases of issue 13 (GCOUNT = -1, NAXISn = 10^9, corrupted .fits.gz streams), the
memory cap on gzip, and a hypothesis fuzzer over header values and byte damage, each case under
a time limit.
"""

import gzip
import signal
import time
from contextlib import contextmanager

import numpy as np
import pytest
from astropy.io import fits
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from seeinggan.errors import FitsReadError, ResourceLimitError, SeeingGANError
from seeinggan.io.fits import read_images


@contextmanager
def time_limit(seconds: float):
    """Fail (TimeoutError) when the block runs longer than `seconds` (SIGALRM, main thread)."""

    def on_alarm(signum, frame):
        raise TimeoutError(f"took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _uint8_file() -> bytes:
    """An 8.6 kB uint8 image, as in the issue."""
    data = (np.arange(75 * 75) % 251).astype(np.uint8).reshape(75, 75)
    import io

    buffer = io.BytesIO()
    fits.PrimaryHDU(data).writeto(buffer)
    return buffer.getvalue()


def _set_card(raw: bytes, keyword: str, value: str) -> bytes:
    """Replace (or insert before END) one card in the first header."""
    card = (keyword.ljust(8) + "= " + value.rjust(20)).ljust(80).encode()
    header_end = raw.index(b"END" + b" " * 77)
    for offset in range(0, header_end, 80):
        if raw[offset : offset + 8] == keyword.ljust(8).encode():
            return raw[:offset] + card + raw[offset + 80 :]
    return raw[:header_end] + card + b"END".ljust(80) + raw[header_end + 160 :]


def _read_fast(path, error=FitsReadError, match=None, seconds=5.0):
    start = time.perf_counter()
    with time_limit(seconds), pytest.raises(error, match=match) as info:
        read_images(path)
    assert time.perf_counter() - start < seconds
    assert str(path.name) in str(info.value)
    return info.value


@pytest.mark.timing
def test_gcount_minus_one_fails_at_once(tmp_path):
    raw = _uint8_file()
    assert len(raw) == 8640
    for extension in (False, True):
        path = tmp_path / f"gcount{int(extension)}.fits"
        if extension:  # the same image as an extension
            hdul = fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.ones((90, 90), np.uint8))])
            hdul.writeto(path)
            body = path.read_bytes()
            second = body.index(b"XTENSION")
            path.write_bytes(body[:second] + _set_card(body[second:], "GCOUNT", "-1"))
        else:
            path.write_bytes(_set_card(raw, "GCOUNT", "-1"))
        _read_fast(path, match=r"GCOUNT = -1")


@pytest.mark.timing
def test_naxis_of_a_billion_fails_at_once(tmp_path):
    raw = _uint8_file()
    axis = tmp_path / "naxis1.fits"
    axis.write_bytes(_set_card(raw, "NAXIS1", "1000000000"))
    _read_fast(axis, match=r"truncated or corrupt.*HDU 0 needs 75000000000 bytes")
    count = tmp_path / "naxis.fits"  # hung astropy (a billion NAXISn looked up)
    count.write_bytes(_set_card(raw, "NAXIS", "1000000000"))
    _read_fast(count, match=r"NAXIS = 1000000000 \(must be 0..999\)")
    gz = tmp_path / "naxis1.fits.gz"  # inside gzip: no file size to compare with
    gz.write_bytes(gzip.compress(_set_card(raw, "NAXIS1", "1000000000")))
    _read_fast(gz, match=r"truncated or corrupt.*needs 75000000000 bytes")


@pytest.mark.timing
def test_corrupt_and_truncated_gzip_fail_at_once(tmp_path):
    stream = bytearray(gzip.compress(_uint8_file()))
    corrupt = stream.copy()
    for k in range(40, len(corrupt), 97):
        corrupt[k] ^= 0x55
    path = tmp_path / "corrupt.fits.gz"
    path.write_bytes(bytes(corrupt))
    _read_fast(path, match=r"corrupt gzip stream")
    cut = tmp_path / "cut.fits.gz"
    cut.write_bytes(bytes(stream[: len(stream) // 2]))
    _read_fast(cut, match=r"truncated or corrupt gzip stream")
    crc = tmp_path / "crc.fits.gz"
    crc.write_bytes(bytes(stream[:-8]) + b"\0\1\2\3\4\5\6\7")
    _read_fast(crc, match=r"corrupt gzip stream")


@pytest.mark.timing
def test_gzip_is_capped_and_says_how_much_memory_it_needs(tmp_path, monkeypatch):
    data = np.zeros((2000, 2000), np.float32)  # 16 MB, compresses to ~16 kB
    plain = tmp_path / "big.fits"
    fits.PrimaryHDU(data).writeto(plain)
    gz = tmp_path / "big.fits.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    monkeypatch.setenv("SEEINGGAN_MEMORY_LIMIT", "8M")
    error = _read_fast(gz, error=ResourceLimitError, match=r"needs \d+\.\d MiB of memory")
    assert isinstance(error, SeeingGANError) and isinstance(error, MemoryError)
    # The plain file: the float image (16 MB) is checked before it is converted.
    _read_fast(plain, error=ResourceLimitError, match=r"2000x2000 pixels\) needs 15.3 MiB")
    monkeypatch.setenv("SEEINGGAN_MEMORY_LIMIT", "200M")
    assert read_images(gz)[0].data.shape == (2000, 2000)


@pytest.mark.timing
def test_a_header_beyond_the_file_and_bad_bitpix_are_named(tmp_path):
    raw = _uint8_file()
    path = tmp_path / "bitpix.fits"
    path.write_bytes(_set_card(raw, "BITPIX", "7"))
    _read_fast(path, match=r"BITPIX = 7")
    noend = tmp_path / "noend.fits"
    noend.write_bytes(raw[:2880].replace(b"END" + b" " * 77, b" " * 80))
    _read_fast(noend, match=r"no END card")
    text = tmp_path / "text.fits"
    text.write_bytes(b"NAXIS   = 2" * 500)
    _read_fast(text, match=r"not a valid FITS file")


def test_trailing_garbage_is_ignored_and_good_files_still_read(tmp_path):
    raw = _uint8_file()
    path = tmp_path / "tail.fits"
    path.write_bytes(raw + b"\x07garbage" * 100)
    image = read_images(path)[0]
    assert image.data.shape == (75, 75)
    assert float(image.data[0, 5]) == 5.0


# --------------------------------------------------------------------- hypothesis fuzzer
_KEYS = ["BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "NAXIS3", "PCOUNT", "GCOUNT", "BSCALE", "BZERO",
         "BLANK", "CRPIX1", "CDELT1", "CTYPE1", "CRVAL2", "CD1_1", "EXTEND", "XTENSION", "SIMPLE"]
_VALUES = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63).map(str),
    st.sampled_from(["-1", "0", "1000000000", "1.5", "'abc'", "T", "F", "NaN", "1E300", "",
                     "'RA---TAN'", "'DEC--SIN'"]),
)


@st.composite
def damaged_files(draw):
    kind = draw(st.sampled_from(["u1", "i2", "f4", "f8", "cube", "mef"]))
    rng = np.random.default_rng(draw(st.integers(0, 1000)))
    if kind == "cube":
        hdul = fits.HDUList([fits.PrimaryHDU(rng.random((2, 12, 12)).astype(np.float32))])
    elif kind == "mef":
        hdul = fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(rng.random((10, 14)).astype(np.float32))])
    else:
        hdul = fits.HDUList([fits.PrimaryHDU((rng.random((16, 20)) * 100).astype(kind))])
    import io

    buffer = io.BytesIO()
    hdul.writeto(buffer)
    raw = buffer.getvalue()
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(["card", "card", "flip", "cut", "append"]))
        if action == "card" and b"END" + b" " * 77 in raw[:2880]:
            raw = _set_card(raw, draw(st.sampled_from(_KEYS)), draw(_VALUES))
        elif action == "flip" and raw:
            data = bytearray(raw)
            for position in draw(st.lists(st.integers(0, len(raw) - 1), min_size=1, max_size=8)):
                data[position] = draw(st.integers(0, 255))
            raw = bytes(data)
        elif action == "cut" and raw:
            raw = raw[: draw(st.integers(0, len(raw) - 1))]
        elif action == "append":
            raw = raw + draw(st.binary(min_size=1, max_size=3000))
    compress = draw(st.sampled_from(["none", "none", "gzip", "gzip-cut"]))
    if compress != "none":
        raw = gzip.compress(raw, compresslevel=1)
        if compress == "gzip-cut":
            raw = raw[: draw(st.integers(0, max(0, len(raw) - 1)))]
    return raw, compress != "none"


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=damaged_files())
@pytest.mark.timing
def test_fuzzed_files_read_or_fail_with_a_user_error_within_a_time_limit(tmp_path, case):
    raw, gz = case
    path = tmp_path / ("case.fits.gz" if gz else "case.fits")
    path.write_bytes(raw)
    with time_limit(5.0):
        try:
            images = read_images(path)
        except SeeingGANError as error:
            assert "case.fits" in str(error)
        else:
            assert all(image.data.ndim in (2, 3) for image in images)


@pytest.mark.timing
def test_a_lost_end_card_with_a_second_naxis_fails_at_once(tmp_path):
    """Found by the fuzzer: the primary header lost its END, so the extension's cards (and its
    NAXIS = 10^9) became part of it; astropy took the second NAXIS and looped."""
    import io

    buffer = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.ones((20, 20), np.float32))]).writeto(buffer)
    raw = bytearray(buffer.getvalue())
    end = raw.index(b"END" + b" " * 77)
    raw[end : end + 80] = b" " * 80
    second = raw.index(b"NAXIS   =", 2880)
    raw[second : second + 80] = (b"NAXIS   = " + b"1000000000".rjust(20)).ljust(80)
    path = tmp_path / "lost_end.fits"
    path.write_bytes(bytes(raw))
    _read_fast(path, match=r"corrupt header: (XTENSION card inside a header|NAXIS appears twice)")


def test_pixel_scale_from_a_header_with_an_unparsable_card_reads_it_as_absent():
    """The fuzzer found it: an unparsable CTYPE1 made the napari reader raise VerifyError."""
    from astropy.io import fits
    from seeinggan.geometry import pixel_scale_from_header

    header = fits.Header()
    header["CDELT1"], header["CDELT2"] = -5.6e-5, 5.6e-5
    header.append(fits.Card.fromstring("CTYPE1  = 'RA---TAN"))  # no closing quote: unparsable
    with pytest.raises(fits.verify.VerifyError):
        header["CTYPE1"]
    assert pixel_scale_from_header(header) is None
    header["CUNIT1"] = "deg"
    assert pixel_scale_from_header(header) == pytest.approx(0.2016)
