"""Check a FITS file's structure before astropy reads it, so no file can hang or exhaust memory.

astropy.io.fits trusts the structural keywords of a header: ``NAXIS = 1000000000`` makes it
look for a billion ``NAXISn`` cards, ``GCOUNT = -1`` or a huge ``NAXISn`` make it size data the
file does not hold, and a corrupt gzip stream is decompressed in memory without a cap. This
module reads the headers itself (80-character cards in 2880-byte blocks, FITS standard 4.0,
section 3-4), checks every structural value against FITS's rules and against the file's size,
and only then lets astropy open the file, limited to the HDUs it checked.

- `scan_hdus` walks the HDUs: ``SIMPLE``/``XTENSION``, ``BITPIX`` (8, 16, 32, 64, -32, -64),
  ``NAXIS`` (0..999) and every ``NAXISn`` (integers >= 0), ``PCOUNT``/``GCOUNT`` (>= 0),
  ``TFIELDS`` (0..999), and for tile-compressed images ``ZBITPIX``/``ZNAXIS``/``ZNAXISn``/
  ``ZTILEn``. Data size is ``|BITPIX|/8 * GCOUNT * (PCOUNT + NAXIS1*...*NAXISn)`` (random groups
  leave out NAXIS1 = 0); it must lie within the file. Bytes after the last complete HDU that do
  not start an extension are ignored (as astropy does), and so are the HDUs astropy never sees.
- `decompress` inflates ``gzip`` and ``bzip2`` files (detected by their first bytes, as astropy
  does) in pieces, failing at once on a corrupt stream, on a stream that ends early, and when the
  result would exceed the memory limit (`seeinggan.io.resources.memory_limit`); the size the
  headers announce is checked as soon as the first header is decompressed.

Every failure is a `seeinggan.errors.FitsReadError` naming the file and the problem (or a
`seeinggan.errors.ResourceLimitError` saying how much memory is needed).
"""

from __future__ import annotations

import bz2
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from seeinggan.errors import FitsReadError, ResourceLimitError
from seeinggan.io.resources import format_bytes, memory_limit

__all__ = [
    "BLOCK",
    "MAX_HDUS",
    "MAX_HEADER_BYTES",
    "HduLayout",
    "compression_of",
    "decompress",
    "scan_hdus",
]

BLOCK = 2880
CARD = 80
MAX_HDUS = 1000
"""HDUs read from one file at most."""
MAX_HEADER_BYTES = 16 * 1024**2
"""One header's size at most (about 200,000 cards)."""
MAX_AXIS = 2**31 - 1
_BITPIX = (8, 16, 32, 64, -32, -64)
_INTEGER = re.compile(r"^[+-]?\d+$")
_STRUCTURAL = {"SIMPLE", "XTENSION", "BITPIX", "NAXIS", "PCOUNT", "GCOUNT", "TFIELDS", "GROUPS",
               "EXTEND", "ZIMAGE", "ZBITPIX", "ZNAXIS", "THEAP", "BSCALE", "BZERO", "BLANK"} | {
    f"{prefix}{i}" for prefix in ("NAXIS", "ZNAXIS", "ZTILE") for i in range(1, 1000)}
_CHUNK = 1024**2
_STEP = 4 * 1024**2  # decompressed bytes per step; the headers are checked after the first


@dataclass
class HduLayout:
    """Where one HDU lies in the file and what its structural keywords say."""

    index: int
    header_offset: int
    data_offset: int
    data_bytes: int
    bitpix: int
    shape: tuple[int, ...]  # NAXISn, FITS order (NAXIS1 first)
    extension: str  # "" for the primary HDU, else the XTENSION value
    compressed_shape: tuple[int, ...] | None = None  # ZNAXISn of a tile-compressed image
    compressed_bitpix: int | None = None
    keywords: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def end(self) -> int:
        """Offset just past the data (without the padding to a whole block)."""
        return self.data_offset + self.data_bytes

    @property
    def image_bytes(self) -> int:
        """Bytes of the image once read as float32 (float64 for 64-bit types); 0 for tables."""
        shape, bitpix = (
            (self.compressed_shape, self.compressed_bitpix)
            if self.compressed_shape is not None
            else (self.shape, self.bitpix)
        )
        if self.extension not in ("", "IMAGE") and self.compressed_shape is None:
            return 0
        n = 1
        for axis in shape:
            n *= axis
        return n * (8 if abs(bitpix or 32) == 64 else 4) if shape else 0


def compression_of(head: bytes) -> str | None:
    """``"gzip"``, ``"bzip2"``, ``"zip"`` from a file's first bytes, or None."""
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:3] == b"BZh":
        return "bzip2"
    if head[:4] == b"PK\x03\x04":
        return "zip"
    return None


def _value(text: str) -> str:
    """The value field of a card (columns 11-80), comment removed, stripped."""
    text = text.strip()
    if text.startswith("'"):
        end = text.find("'", 1)
        while end != -1 and end + 1 < len(text) and text[end + 1] == "'":
            end = text.find("'", end + 2)
        return text[: end + 1] if end != -1 else text
    return text.split("/", 1)[0].strip()


def _header_cards(read_at: Callable[[int, int], bytes], offset: int, size: int,
                  where: str) -> tuple[dict[str, str], int] | None:
    """The structural cards of the header at `offset` and the offset of its data.

    Returns None when no whole header block is left. Raises `FitsReadError` on a header without
    END within the file or beyond `MAX_HEADER_BYTES`.
    """
    cards: dict[str, str] = {}
    position = offset
    while True:
        if position + BLOCK > size:
            if position == offset:
                return None
            raise FitsReadError(f"{where}: truncated or corrupt file: a header has no END card")
        if position - offset >= MAX_HEADER_BYTES:
            raise FitsReadError(
                f"{where}: corrupt file: a header longer than {format_bytes(MAX_HEADER_BYTES)} "
                "without an END card"
            )
        block = read_at(position, BLOCK)
        if len(block) < BLOCK:
            raise FitsReadError(f"{where}: truncated or corrupt file: a header has no END card")
        position += BLOCK
        for start in range(0, BLOCK, CARD):
            card = block[start : start + CARD].decode("ascii", errors="replace")
            # As leniently as astropy reads it: any case, an "=" anywhere after the keyword.
            field = card[:8].split("=", 1)[0]
            keyword = field.strip().upper()
            if keyword == "END" and not card[8:].strip():
                return cards, position
            if "=" not in card[len(field):10] and card[8:10] != "= ":
                continue
            value = _value(card[card.index("=", len(field)) + 1 :])
            if keyword in cards:
                if keyword in _STRUCTURAL and value != cards[keyword]:
                    raise FitsReadError(
                        f"{where}: corrupt header: {keyword} appears twice ({cards[keyword][:20]} "
                        f"and {value[:20]})"
                    )
                continue
            if keyword in ("SIMPLE", "XTENSION") and position - BLOCK + start != offset:
                raise FitsReadError(f"{where}: corrupt header: {keyword} card inside a header "
                                    "(an END card is missing)")
            cards[keyword] = value


def _integer(cards: dict[str, str], keyword: str, where: str, *, default: int | None = None,
             low: int | None = None, high: int | None = None) -> int:
    text = cards.get(keyword)
    if text is None:
        if default is None:
            raise FitsReadError(f"{where}: corrupt header: {keyword} is missing")
        return default
    if not _INTEGER.match(text):
        raise FitsReadError(f"{where}: corrupt header: {keyword} = {text[:30]!r} is not an integer")
    value = int(text)
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"{low}..{high}" if high is not None else f">= {low}"
        raise FitsReadError(f"{where}: corrupt header: {keyword} = {value} (must be {bounds})")
    return value


def _check_hdu(cards: dict[str, str], where: str, *, primary: bool) -> tuple[int, int, tuple, str]:
    """(BITPIX, data bytes, NAXISn, extension) of one header, every value checked."""
    extension = ""
    if not primary:
        extension = cards.get("XTENSION", "").strip("'").strip().upper()
    bitpix = _integer(cards, "BITPIX", where)
    if bitpix not in _BITPIX:
        raise FitsReadError(f"{where}: corrupt header: BITPIX = {bitpix} (must be one of {_BITPIX})")
    naxis = _integer(cards, "NAXIS", where, low=0, high=999)
    shape = tuple(
        _integer(cards, f"NAXIS{i}", where, low=0, high=MAX_AXIS) for i in range(1, naxis + 1)
    )
    pcount = _integer(cards, "PCOUNT", where, default=0, low=0)
    gcount = _integer(cards, "GCOUNT", where, default=1, low=0)
    if extension in ("TABLE", "BINTABLE"):
        _integer(cards, "TFIELDS", where, default=0, low=0, high=999)
    groups = primary and cards.get("GROUPS", "F") == "T" and shape[:1] == (0,)
    if naxis == 0:
        return bitpix, 0, shape, extension
    count = 1
    for axis in shape[1:] if groups else shape:
        count *= axis
    data_bytes = abs(bitpix) // 8 * gcount * (pcount + count)
    return bitpix, data_bytes, shape, extension


def _check_compressed(cards: dict[str, str], where: str) -> tuple[tuple[int, ...], int]:
    zbitpix = _integer(cards, "ZBITPIX", where)
    if zbitpix not in _BITPIX:
        raise FitsReadError(f"{where}: corrupt header: ZBITPIX = {zbitpix} (must be one of {_BITPIX})")
    znaxis = _integer(cards, "ZNAXIS", where, low=0, high=999)
    shape = tuple(
        _integer(cards, f"ZNAXIS{i}", where, low=0, high=MAX_AXIS) for i in range(1, znaxis + 1)
    )
    for i in range(1, znaxis + 1):
        _integer(cards, f"ZTILE{i}", where, default=1, low=1, high=MAX_AXIS)
    return shape, zbitpix


def scan_hdus(read_at: Callable[[int, int], bytes], size: int, path: str | Path, *,
              partial: bool = False) -> list[HduLayout]:
    """Walk and check every HDU of a FITS byte stream.

    Parameters
    ----------
    read_at : callable
        ``read_at(offset, n)`` returns up to `n` bytes from `offset`.
    size : int
        Bytes in the stream.
    path : str or Path
        The file, for messages.
    partial : bool, optional
        The stream is the first part of a larger one (a file being decompressed): stop quietly
        where the bytes run out instead of calling the file truncated.

    Returns
    -------
    list of HduLayout
        One per HDU, in file order.

    Raises
    ------
    FitsReadError
        Not FITS, a structural keyword missing or out of range, data beyond the end of the
        file, more than `MAX_HDUS` HDUs.
    """
    where = str(path)
    head = read_at(0, CARD)
    if not head.startswith(b"SIMPLE  ="):
        if partial and len(head) < CARD:
            return []
        raise FitsReadError(f"{where}: not a valid FITS file (it does not start with a SIMPLE card)")
    layouts: list[HduLayout] = []
    offset = 0
    while offset < size:
        index = len(layouts)
        if index > 0 and not read_at(offset, 8).startswith(b"XTENSION"):
            break  # trailing bytes after the last HDU: astropy ignores them too
        if index >= MAX_HDUS:
            raise FitsReadError(f"{where}: more than {MAX_HDUS} HDUs; not read")
        try:
            found = _header_cards(read_at, offset, size, where)
        except FitsReadError:
            if partial:
                break
            raise
        if found is None:
            break
        cards, data_offset = found
        label = f"{where}: HDU {index}"
        bitpix, data_bytes, shape, extension = _check_hdu(cards, label, primary=index == 0)
        layout = HduLayout(index, offset, data_offset, data_bytes, bitpix, shape, extension,
                           keywords=cards)
        if extension == "BINTABLE" and cards.get("ZIMAGE", "F") == "T":
            layout.compressed_shape, layout.compressed_bitpix = _check_compressed(cards, label)
        if layout.end > size and not partial:
            raise FitsReadError(
                f"{where}: truncated or corrupt file: HDU {index} needs {data_bytes} bytes of "
                f"data but the file ends {layout.end - size} bytes early"
            )
        layouts.append(layout)
        offset = data_offset + -(-data_bytes // BLOCK) * BLOCK
    if not layouts and not partial:
        raise FitsReadError(f"{where}: not a valid FITS file (no complete header)")
    return layouts


def _needed_memory(layouts: list[HduLayout]) -> int:
    """Bytes of the decompressed file plus its images as floats, as far as the headers say.

    The file counts twice: it is copied once into bytes.
    """
    if not layouts:
        return 0
    total = max(layout.end for layout in layouts)
    return 2 * total + sum(layout.image_bytes for layout in layouts)


def decompress(path: Path, kind: str, *, limit: int | None = None) -> bytes:
    """Decompress a gzip or bzip2 file in pieces, with a size cap.

    Parameters
    ----------
    path : Path
        The compressed file.
    kind : {"gzip", "bzip2"}
        From `compression_of`.
    limit : int, optional
        Largest decompressed size allowed (default: `memory_limit`).

    Raises
    ------
    FitsReadError
        Corrupt or truncated stream, or not FITS inside.
    ResourceLimitError
        The headers (or the stream) say the data need more memory than `limit`.
    """
    limit = memory_limit() if limit is None else limit
    where = str(path)
    out = bytearray()
    state = {"decompressor": _decompressor(kind), "checked": False}

    def too_big() -> ResourceLimitError:
        return ResourceLimitError(
            f"{where}: the decompressed file needs more than {format_bytes(limit)} of memory, "
            "the most available"
        )

    def check() -> None:
        if len(out) > limit:
            raise too_big()
        if not state["checked"] and len(out) >= _STEP:
            _check_announced(out, where, limit)
            state["checked"] = True

    def feed(data: bytes) -> None:
        while True:
            decompressor = state["decompressor"]
            if decompressor.eof:
                if not data.strip(b"\0"):
                    return  # padding after the last member
                decompressor = state["decompressor"] = _decompressor(kind)  # next member
            room = min(limit + 1 - len(out), _STEP)
            if room <= 0:
                raise too_big()
            out.extend(decompressor.decompress(data, room))
            check()
            if decompressor.eof:
                data = decompressor.unused_data
                continue
            if kind == "gzip":
                data = decompressor.unconsumed_tail
                if not data:
                    return
            else:
                data = b""
                if decompressor.needs_input:
                    return

    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                feed(chunk)
    except ResourceLimitError:
        raise
    except (zlib.error, OSError, EOFError, ValueError) as error:
        if isinstance(error, FitsReadError):
            raise
        raise FitsReadError(f"{where}: corrupt {kind} stream ({error})") from error
    except MemoryError as error:
        raise ResourceLimitError(
            f"{where}: out of memory after decompressing {format_bytes(len(out))}"
        ) from error
    if not state["decompressor"].eof:
        raise FitsReadError(
            f"{where}: truncated or corrupt {kind} stream: it ends after {len(out)} "
            "decompressed bytes"
        )
    # A small file is checked whole by the caller (`scan_hdus`: a truncated file says so).
    return bytes(out)  # astropy reads from bytes only (one copy, the bytearray is freed)


def _decompressor(kind: str):
    return zlib.decompressobj(wbits=31) if kind == "gzip" else bz2.BZ2Decompressor()


def _check_announced(buffer: bytearray, where: str, limit: int) -> None:
    view = memoryview(buffer)
    layouts = scan_hdus(lambda o, n: bytes(view[o : o + n]), len(buffer), where, partial=True)
    view.release()
    needed = _needed_memory(layouts)
    if needed > limit:
        raise ResourceLimitError(
            f"{where}: decompressing and reading this file needs {format_bytes(needed)} of "
            f"memory, but only {format_bytes(limit)} is available"
        )
