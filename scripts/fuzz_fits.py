"""Run thousands of mutated FITS files through `read_images` and the napari reader; print counts.

    python scripts/fuzz_fits.py [--cases 5000] [--seed 0] [--timeout 10] [--workers 2] [--keep DIR]

Seed files (uint8/int16 with BSCALE/BZERO/BLANK/float32 with a celestial WCS/float64, a 3-D cube,
a multi-extension file with a table, a tile-compressed ``.fits.fz``, gzip and bzip2 files) are
mutated: structural keywords set to hostile values (GCOUNT = -1, NAXISn = 10^9, NAXIS = 10^9,
BITPIX = 7, non-integers...), WCS keywords set to NaN/inf/garbage, random bytes flipped in the
header or data, cards deleted or duplicated, END removed, files cut short, gzip streams corrupted
or cut. Each file goes through

- ``seeinggan.io.fits.read_images`` and
- the plugin's reader (``napari_seeinggan._reader.get_reader(path)(path)``: the layer
  data napari would get)

in worker processes; a worker that has not answered within ``--timeout`` seconds is a hang (it is
killed and replaced), one that dies is a crash. Allowed outcomes: the file is read, or a
`seeinggan.errors.SeeingGANError` (FitsReadError, ResourceLimitError) is raised. The script prints
the counts per outcome and per reader and exits 1 if there was any hang, crash or other exception
(listing a few examples). ``--keep DIR`` saves the files that failed.
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import multiprocessing as mp
import os
import random
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src_core"), str(ROOT)]

HOSTILE = ["-1", "0", "1", "-2147483648", "2147483647", "1000000000", "9223372036854775807",
           "99999999999999999999", "1.5", "1E9", "'abc'", "T", "", "NaN", "-0", "3", "7", "999",
           "1000", "65536"]
STRUCTURAL = ["SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "NAXIS3", "PCOUNT", "GCOUNT",
              "EXTEND", "XTENSION", "TFIELDS", "BSCALE", "BZERO", "BLANK", "ZBITPIX", "ZNAXIS",
              "ZNAXIS1", "ZNAXIS2", "ZTILE1", "ZTILE2", "GROUPS", "THEAP", "TFORM1", "ZCMPTYPE"]
WCS_KEYS = ["CRVAL1", "CRVAL2", "CRPIX1", "CRPIX2", "CDELT1", "CDELT2", "CD1_1", "CD1_2",
            "CD2_1", "CD2_2", "CTYPE1", "CTYPE2", "RADESYS", "EQUINOX", "PC1_1", "LONPOLE",
            "CUNIT1", "PV2_1", "WCSAXES"]
WCS_VALUES = ["NaN", "1E300", "-1E300", "0", "0.0", "'RA---TAN'", "'DEC--TAN'", "'GLON-CAR'",
              "'RA---XYZ'", "'abc'", "1E-300", "360.0", "-91.0", "'deg'", "'FK4'", "1.0", "5", "T"]


# --------------------------------------------------------------------------- seed files
def make_seeds(folder: Path) -> list[Path]:
    import numpy as np
    from astropy.io import fits
    from astropy.wcs import WCS

    rng = np.random.default_rng(0)
    seeds = []

    def wcs(n):
        w = WCS(naxis=2)
        w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
        w.wcs.crval = [150.1, 2.2]
        w.wcs.crpix = [n / 2, n / 2]
        w.wcs.cdelt = [-0.202 / 3600, 0.202 / 3600]
        return w.to_header()

    def save(name, hdul):
        path = folder / name
        hdul.writeto(path, overwrite=True)
        seeds.append(path)
        return path

    save("u8.fits", fits.HDUList([fits.PrimaryHDU((rng.random((90, 90)) * 255).astype(np.uint8))]))
    h = wcs(48)
    h["BSCALE"], h["BZERO"], h["BLANK"] = 0.5, 100.0, -32768
    save("i16.fits", fits.HDUList([fits.PrimaryHDU(rng.integers(-300, 300, (48, 48)).astype(np.int16), header=h)]))
    save("f32wcs.fits", fits.HDUList([fits.PrimaryHDU(rng.random((64, 64)).astype(np.float32), header=wcs(64))]))
    save("f64.fits", fits.HDUList([fits.PrimaryHDU(rng.random((32, 40)))]))
    save("cube.fits", fits.HDUList([fits.PrimaryHDU(rng.random((3, 24, 24)).astype(np.float32))]))
    table = fits.BinTableHDU.from_columns([fits.Column(name="x", format="E", array=np.arange(5.0))])
    save("mef.fits", fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(rng.random((20, 20)).astype(np.float32),
                                                                     header=wcs(20), name="SCI"), table])
         )
    save("comp.fits.fz", fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(rng.random((40, 40)).astype(np.float32))]))
    for base in ("u8.fits", "f32wcs.fits", "mef.fits"):
        gz = folder / (base + ".gz")
        gz.write_bytes(gzip.compress((folder / base).read_bytes()))
        seeds.append(gz)
    bz = folder / "f64bz2.fits"  # bzip2 inside, a plain FITS name: found by its first bytes
    bz.write_bytes(bz2.compress((folder / "f64.fits").read_bytes()))
    seeds.append(bz)
    return seeds


# --------------------------------------------------------------------------- mutations
def _card(key: str, value: str) -> bytes:
    return (key.ljust(8) + "= " + value.rjust(20)).ljust(80)[:80].encode("ascii", "replace")


def _header_cards(raw: bytes) -> list[int]:
    """Offsets of the cards of every header (up to and including END)."""
    offsets, pos = [], 0
    while pos + 2880 <= len(raw):
        if pos and not raw[pos:pos + 8].startswith(b"XTENSION"):
            break
        start = pos
        end_found = False
        while pos + 2880 <= len(raw) and not end_found:
            for c in range(pos, pos + 2880, 80):
                offsets.append(c)
                if raw[c:c + 8] == b"END     ":
                    end_found = True
                    break
            pos += 2880
        if not end_found:
            break
        # skip the data: read NAXIS values roughly from this header
        import re

        text = raw[start:pos].decode("ascii", "replace")
        cards = re.finditer(r"(NAXIS\d*|BITPIX|PCOUNT|GCOUNT)\s*=\s*(-?\d+)", text)
        vals = {m.group(1): int(m.group(2)) for m in cards}
        n = vals.get("NAXIS", 0)
        size = 0
        if n:
            size = 1
            for i in range(1, n + 1):
                size *= vals.get(f"NAXIS{i}", 0)
            size = abs(vals.get("BITPIX", 8)) // 8 * vals.get("GCOUNT", 1) * (vals.get("PCOUNT", 0) + size)
        pos += -(-size // 2880) * 2880
    return offsets


def mutate_plain(raw: bytes, rng: random.Random) -> bytes:
    data = bytearray(raw)
    cards = _header_cards(raw)
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        cards = [c for c in cards if c + 80 <= len(data)]  # earlier mutations may cut the file
        if not data:
            break
        kind = rng.random()
        if kind < 0.35 and cards:  # structural keyword to a hostile value (set or insert)
            key = rng.choice(STRUCTURAL)
            target = [c for c in cards if data[c:c + 8] == key.ljust(8).encode()]
            value = rng.choice(HOSTILE)
            if target:
                c = rng.choice(target)
                data[c:c + 80] = _card(key, value)
            else:
                ends = [c for c in cards if data[c:c + 8] == b"END     "]
                blanks = [c for c in cards if data[c:c + 80] == b" " * 80]
                if ends and blanks:
                    c = rng.choice(blanks)
                    data[c:c + 80] = _card(key, value)
                elif ends:
                    data[ends[0]:ends[0] + 80] = _card(key, value)  # END lost
        elif kind < 0.5 and cards:  # WCS keyword to an odd value
            c = rng.choice(cards)
            data[c:c + 80] = _card(rng.choice(WCS_KEYS), rng.choice(WCS_VALUES))
        elif kind < 0.6 and cards:  # bytes flipped in the header
            for _ in range(rng.randint(1, 8)):
                c = rng.choice(cards) + rng.randrange(80)
                data[c] = rng.randrange(256)
        elif kind < 0.68 and cards:  # END removed or a card deleted
            c = rng.choice(cards)
            del data[c:c + 80]
            data[c:c] = b" " * 80 if rng.random() < 0.5 else b""
        elif kind < 0.78:  # cut short
            data = data[: rng.randrange(1, max(2, len(data)))]
        elif kind < 0.86:  # bytes flipped anywhere
            for _ in range(rng.randint(1, 32)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif kind < 0.93:  # a duplicated header block or random garbage appended
            if rng.random() < 0.5:
                data += data[:2880]
            else:
                data += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 6000)))
        else:  # a random number in a random card
            if cards:
                c = rng.choice(cards)
                key = data[c:c + 8].decode("ascii", "replace")
                data[c:c + 80] = _card(key.strip() or "NAXIS", str(rng.choice([-1, 0, 10**9, 2**40, 3])))
    return bytes(data)


def mutate(seed: Path, rng: random.Random) -> tuple[str, bytes]:
    raw = seed.read_bytes()
    name = seed.name
    if name.endswith(".gz"):
        plain = gzip.decompress(raw)
        if rng.random() < 0.5:  # corrupt the stream itself
            data = bytearray(raw)
            choice = rng.random()
            if choice < 0.4:
                for _ in range(rng.randint(1, 16)):
                    data[rng.randrange(10, len(data))] = rng.randrange(256)
            elif choice < 0.7:
                data = data[: rng.randrange(1, len(data))]
            elif choice < 0.85:
                data[-8:] = bytes(rng.randrange(256) for _ in range(8))  # CRC / size
            else:
                data += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 100)))
            return name, bytes(data)
        return name, gzip.compress(mutate_plain(plain, rng), compresslevel=1)
    if name.endswith("bz2.fits"):
        plain = bz2.decompress(raw)
        if rng.random() < 0.5:
            data = bytearray(raw)
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(4, len(data))] = rng.randrange(256)
            return name, bytes(data)
        return name, bz2.compress(mutate_plain(plain, rng))
    return name, mutate_plain(raw, rng)


# --------------------------------------------------------------------------- workers
def _worker(conn, which: str) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import warnings

    warnings.simplefilter("ignore")
    from seeinggan.errors import SeeingGANError
    from seeinggan.io.fits import read_images

    if which == "napari":
        from napari_seeinggan import _reader

        _reader._tell_user = lambda message: None  # no notification manager in a bare process

        def read(path):
            reader = _reader.get_reader(path)
            if reader is None:
                raise RuntimeError("reader refused a FITS path")
            return reader(path)
    else:
        read = read_images
    conn.send("ready")
    while True:
        path = conn.recv()
        if path is None:
            return
        try:
            read(path)
            conn.send(("ok", ""))
        except SeeingGANError as error:
            conn.send((type(error).__name__, ""))
        except BaseException as error:  # noqa: BLE001 - this is what we count
            conn.send(("OTHER", (f"{type(error).__name__}: {error}\n"
                                f"{''.join(traceback.format_exc(limit=6))}")))


class Runner:
    def __init__(self, which: str, timeout: float):
        self.which, self.timeout = which, timeout
        self.ctx = mp.get_context("spawn")
        self._start()

    def _start(self):
        self.conn, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_worker, args=(child, self.which), daemon=True)
        self.proc.start()
        if not self.conn.poll(120):
            raise RuntimeError("worker did not start")
        self.conn.recv()

    def run(self, path: str) -> tuple[str, str, float]:
        start = time.perf_counter()
        self.conn.send(path)
        if self.conn.poll(self.timeout):
            try:
                outcome, detail = self.conn.recv()
            except EOFError:
                self.proc.join(5)
                self._start()
                return "CRASH", f"worker died, exit code {self.proc.exitcode}", time.perf_counter() - start
            return outcome, detail, time.perf_counter() - start
        if not self.proc.is_alive():
            code = self.proc.exitcode
            self._start()
            return "CRASH", f"worker died, exit code {code}", time.perf_counter() - start
        self.proc.kill()
        self.proc.join(5)
        self._start()
        return "HANG", f"no answer within {self.timeout} s", time.perf_counter() - start

    def close(self):
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--readers", default="read_images,napari")
    parser.add_argument("--keep", type=Path, default=None, help="save failing files here")
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="fuzz_fits_"))
    try:
        (work / "seeds").mkdir()
        seeds = make_seeds(work / "seeds")
        readers = args.readers.split(",")
        runners = {name: Runner(name, args.timeout) for name in readers}
        counts = {name: Counter() for name in readers}
        examples: list[str] = []
        slowest = {name: 0.0 for name in readers}
        start = time.perf_counter()
        for case in range(args.cases):
            seed = rng.choice(seeds)
            name, data = mutate(seed, rng)
            path = work / f"case{case:05d}_{name}"
            path.write_bytes(data)
            for reader, runner in runners.items():
                outcome, detail, seconds = runner.run(str(path))
                slowest[reader] = max(slowest[reader], seconds)
                counts[reader][outcome] += 1
                if outcome in ("HANG", "CRASH", "OTHER"):
                    if len(examples) < 12:
                        examples.append(f"[{reader}] {path.name}: {outcome} {detail.strip()[:600]}")
                    if args.keep:
                        args.keep.mkdir(parents=True, exist_ok=True)
                        shutil.copy(path, args.keep / path.name)
            path.unlink()
            if (case + 1) % 500 == 0:
                print(f"... {case + 1} files, {time.perf_counter() - start:.0f} s", flush=True)
        for runner in runners.values():
            runner.close()
        elapsed = time.perf_counter() - start
        print(f"\n{args.cases} mutated files from {len(seeds)} seeds in {elapsed:.0f} s "
              f"(timeout {args.timeout:g} s per file)")
        bad_total = 0
        for reader in readers:
            c = counts[reader]
            bad = c["HANG"] + c["CRASH"] + c["OTHER"]
            bad_total += bad
            user_errors = sum(v for k, v in c.items() if k not in ("ok", "HANG", "CRASH", "OTHER"))
            detail = ", ".join(f"{k} {v}" for k, v in sorted(c.items()) if k not in ("ok", "HANG", "CRASH", "OTHER"))
            print(f"{reader:>12}: read {c['ok']}, user errors {user_errors} ({detail}); "
                  f"hangs {c['HANG']}, other exceptions {c['OTHER']}, crashes {c['CRASH']}; "
                  f"slowest {slowest[reader]:.2f} s")
        for line in examples:
            print(line)
        return 1 if bad_total else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
