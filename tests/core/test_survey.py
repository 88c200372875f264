"""Survey scale: streamed deblurring into FITS, coarser output grids, catalogue cutouts."""

import csv
import os
import sys

import numpy as np
import pytest
import torch
from astropy.coordinates import SkyCoord
from astropy.io import fits
from seeinggan import Cancelled, geometry
from seeinggan.cli import main
from seeinggan.infer import Deblurrer, streaming
from seeinggan.infer.catalog import read_catalog
from seeinggan.io.fits import read_image, write_image
from seeinggan.models import UNetGenerator
from seeinggan.models.io import save_model

GROUND = 0.202
CENTER = SkyCoord(150.0, 2.0, unit="deg")


def _generator(residual=False):
    torch.manual_seed(0)
    return UNetGenerator(base_channels=4, n_down=2, n_res=1, residual=residual)


def _frame(shape=(70, 93), seed=1, center=CENTER, nan=True):
    rng = np.random.default_rng(seed)
    image = rng.normal(10.0, 1.0, shape).astype(np.float32)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    image += (300 * np.exp(-((yy - 20.3) ** 2 + (xx - 50.7) ** 2) / 8.0)).astype(np.float32)
    if nan:
        image[30:35, 40:50] = np.nan
    wcs = geometry.make_tan_wcs(center=center, pixel_scale=GROUND, shape=shape, rotation_deg=20.0)
    return image, wcs


# ----------------------------------------------------------------------------------------------
# geometry pieces
# ----------------------------------------------------------------------------------------------


def test_zoom_window_is_a_block_of_the_whole_frame_resampling():
    image, _ = _frame((120, 101))
    factor = GROUND / 0.03
    whole = geometry.zoom_to_scale(image, factor=factor)
    rows, cols = whole.shape
    for r0, r1, c0, c1 in [(0, 256, 0, 256), (150, 420, 300, 680), (rows - 190, rows, cols - 250, cols)]:
        block = geometry.zoom_window(image, factor=factor, rows=(r0, r1), cols=(c0, c1))
        np.testing.assert_array_equal(np.isnan(block), np.isnan(whole[r0:r1, c0:c1]))
        np.testing.assert_allclose(block, whole[r0:r1, c0:c1], atol=1e-6, equal_nan=True)
    with pytest.raises(ValueError, match="outside the output grid"):
        geometry.zoom_window(image, factor=factor, rows=(0, rows + 1), cols=(0, 10))


def test_bin_image_keeps_totals_and_matches_the_coarser_wcs():
    image = np.arange(7 * 9, dtype=np.float32).reshape(7, 9)
    binned = geometry.bin_image(image, 2)
    assert binned.shape == geometry.upsampled_shape(image.shape, 0.5) == (4, 4)  # round(3.5)=4, round(4.5)=4
    assert binned[0, 0] == image[:2, :2].sum()
    assert binned[3, 0] == pytest.approx(image[6:, :2].mean() * 2 * 2)  # a cut block: mean x area
    with pytest.raises(ValueError, match="whole number"):
        geometry.bin_image(image, 1.5)


# ----------------------------------------------------------------------------------------------
# streamed path
# ----------------------------------------------------------------------------------------------


def test_streamed_file_equals_the_in_memory_result(tmp_path):
    image, wcs = _frame()
    header = fits.Header({"BUNIT": "count", "OBJECT": "field"})
    deblurrer = Deblurrer((_generator(), {"name": "tiny"}), device="cpu", tile=64, overlap=16, batch_size=3)
    in_memory = deblurrer.deblur(image, wcs=wcs)
    target = tmp_path / "out" / "field_deblurred.fits"
    ticks = []
    streamed = deblurrer.deblur_to_file(image, target, wcs=wcs, header=header, history=["deblur: input x"],
                                        progress=lambda d, t: ticks.append((d, t)))
    assert ticks[-1][0] == ticks[-1][1] > 1
    assert os.listdir(target.parent) == [target.name]  # renamed; no temporary left
    written = read_image(target)
    assert written.data.shape == in_memory.data.shape == (471, 626)
    # the network is far from the identity, and NaNs are where the in-memory path has them
    assert np.nanmax(np.abs(in_memory.data - geometry.zoom_to_scale(image, factor=GROUND / 0.03))) > 0.1
    np.testing.assert_array_equal(np.isnan(written.data), np.isnan(in_memory.data))
    np.testing.assert_allclose(written.data, in_memory.data, rtol=1e-6, atol=1e-6, equal_nan=True)
    np.testing.assert_allclose(written.wcs.wcs.crpix, in_memory.wcs.wcs.crpix)
    np.testing.assert_allclose(written.wcs.pixel_scale_matrix, in_memory.wcs.pixel_scale_matrix)
    assert written.header["BUNIT"] == "count"
    assert "deblur: input x" in " ".join(written.header["HISTORY"])
    assert streamed.metadata["settings"]["streamed"] is True
    np.testing.assert_array_equal(np.asarray(streamed.data), written.data)


def test_streamed_file_equals_the_in_memory_result_with_the_support_guard(tmp_path):
    image, wcs = _frame()
    deblurrer = Deblurrer((_generator(), {"name": "tiny"}), device="cpu", tile=64, overlap=16, batch_size=3)
    in_memory = deblurrer.deblur(image, wcs=wcs, seeing=0.8)  # a seeing: the guard is on
    target = tmp_path / "out" / "field_deblurred.fits"
    streamed = deblurrer.deblur_to_file(image, target, wcs=wcs, seeing=0.8)
    assert in_memory.metadata["support_guard"] == streamed.metadata["support_guard"] is not None
    written = read_image(target)
    np.testing.assert_allclose(written.data, in_memory.data, rtol=1e-6, atol=1e-6, equal_nan=True)
    assert any("deblur: support guard, 5 sigma at 0.25-0.5 FWHM" in str(card) for card in written.header["HISTORY"])
    # and the guard did something on this frame
    unguarded = Deblurrer((_generator(), {"name": "tiny"}), device="cpu", tile=64, overlap=16,
                          support_guard=False).deblur(image, wcs=wcs, seeing=0.8)
    assert np.nanmax(np.abs(unguarded.data - in_memory.data)) > 0


def test_streamed_resamples_each_model_grid_pixel_once_and_equals_in_memory(tmp_path, monkeypatch):
    # tiles overlapping by half (as the default "auto" overlap does), several tile rows, and a
    # resampling block small enough that each strip of new rows is resampled in several pieces
    image, wcs = _frame()
    deblurrer = Deblurrer((_generator(), {}), device="cpu", tile=64, overlap=32, batch_size=5)
    in_memory = deblurrer.deblur(image, wcs=wcs)
    monkeypatch.setattr(streaming, "_CHUNK_PIXELS", 5000)
    resampled = []
    zoom_window = geometry.zoom_window

    def counted(data, **options):
        block = zoom_window(data, **options)
        resampled.append(options["rows"])
        return block

    monkeypatch.setattr(geometry, "zoom_window", counted)
    streamed = deblurrer.deblur_to_file(image, tmp_path / "s.fits", wcs=wcs)
    rows, cols = in_memory.data.shape
    grid = streaming.plan_tiles((rows, cols), tile=64, overlap=32, multiple=deblurrer.multiple)
    assert len(grid.starts[0]) > 10 and len(set(resampled)) > 10  # many tile rows, many strips
    # every model-grid row resampled exactly once, across the whole width
    covered = np.zeros(rows, dtype=int)
    for r0, r1 in set(resampled):
        covered[r0:r1] += 1
    np.testing.assert_array_equal(covered, 1)
    assert len(resampled) > len(set(resampled))  # in column blocks
    data = np.asarray(streamed.data)
    np.testing.assert_array_equal(np.isnan(data), np.isnan(in_memory.data))
    assert np.isnan(data).any()
    np.testing.assert_allclose(data, in_memory.data, rtol=1e-6, atol=0, equal_nan=True)
    # on the model's own grid there is no resampling: the two paths agree bit for bit
    on_grid = deblurrer.deblur(image, pixel_scale=0.03)
    streamed = deblurrer.deblur_to_file(image, tmp_path / "g.fits", pixel_scale=0.03)
    np.testing.assert_array_equal(np.asarray(streamed.data), on_grid.data)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_steady_allocator_stops_page_faults_on_every_batch():
    # a 48 MB buffer allocated and freed again and again, as torch does with a batch's activations
    # (glibc's own threshold never rises above 32 MB, so such buffers are always fresh pages):
    # with the thresholds fixed, its pages stay in the heap instead of faulting in anew each time
    assert streaming.steady_allocator() is True
    import resource

    def faults():
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

    np.ones(12 << 20, dtype=np.float32)  # the first one may fault
    before = faults()
    for _ in range(20):
        np.ones(12 << 20, dtype=np.float32)  # 48 MB: 12,288 pages when fresh
    assert faults() - before < 100  # without the thresholds: ~10,000 (536 per allocation, measured)


def test_a_deblurrer_steadies_the_allocator_for_every_path():
    # In a fresh process: building a Deblurrer (any path: in memory, streamed, napari) fixes the
    # thresholds, so the same 48 MB buffer loop no longer faults its pages in anew each time.
    import subprocess
    import sys

    code = (
        "import resource, numpy as np\n"
        "from seeinggan.infer import Deblurrer\n"
        "Deblurrer('default', device='cpu')\n"
        "np.ones(12 << 20, dtype=np.float32)\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "for _ in range(20):\n"
        "    np.ones(12 << 20, dtype=np.float32)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(done.stdout.split()[-1]) < 100  # without: ~10,000


def test_streamed_coarser_output_grid_equals_binned_in_memory(tmp_path):
    image, wcs = _frame(nan=False)
    deblurrer = Deblurrer((_generator(residual=True), {}), device="cpu", tile=64, overlap=16)
    fine = deblurrer.deblur(image, wcs=wcs)
    coarse = deblurrer.deblur(image, wcs=wcs, output_pixel_scale=0.09)
    streamed = deblurrer.deblur_to_file(image, tmp_path / "c.fits", wcs=wcs, output_pixel_scale=0.09)
    assert coarse.data.shape == streamed.data.shape == geometry.upsampled_shape(fine.data.shape, 1 / 3) == (157, 209)
    assert coarse.pixel_scale == streamed.pixel_scale == pytest.approx(0.09)
    np.testing.assert_allclose(np.asarray(streamed.data), coarse.data, rtol=1e-5, atol=1e-5)
    # flux kept; the same sky position at the same place (a coarse pixel is 3 x 3 fine ones)
    assert coarse.data.sum() == pytest.approx(fine.data.sum(), rel=2e-3)
    sky = fine.wcs.pixel_to_world(300.0, 200.0)
    x, y = coarse.wcs.world_to_pixel(sky)
    assert (float(x), float(y)) == pytest.approx(((300 + 0.5) / 3 - 0.5, (200 + 0.5) / 3 - 0.5), abs=1e-6)
    with pytest.raises(ValueError, match="whole multiple"):
        deblurrer.deblur(image, wcs=wcs, output_pixel_scale=0.05)


def test_streamed_fit_on_windows_for_large_frames_agrees_with_the_whole_frame(monkeypatch):
    image, _ = _frame((300, 300), nan=False)
    factor = GROUND / 0.03
    template = Deblurrer((_generator(), {}), device="cpu").transform_template
    whole = streaming.fit_frame_transform(image, factor=factor, template=template)
    monkeypatch.setattr(streaming, "WHOLE_FIT_PIXELS", 0)  # force the windowed fit
    windows = streaming.fit_frame_transform(image, factor=factor, template=template)
    assert windows.sky == pytest.approx(whole.sky, rel=0.01)
    assert windows.noise == pytest.approx(whole.noise, rel=0.03)


def test_a_full_disk_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    from seeinggan.errors import NoSpaceError
    from seeinggan.io import atomic

    image, wcs = _frame(nan=False)
    deblurrer = Deblurrer((_generator(), {}), device="cpu", tile=64, overlap=16)
    monkeypatch.setattr(atomic, "free_disk", lambda folder: 100_000)  # a nearly full disk
    with pytest.raises(NoSpaceError, match=r"no space left for x\.fits: about 1\.\d MiB needed"):
        deblurrer.deblur_to_file(image, tmp_path / "x.fits", wcs=wcs)
    assert os.listdir(tmp_path) == []


def test_cancel_leaves_no_file(tmp_path):
    image, wcs = _frame(nan=False)
    deblurrer = Deblurrer((_generator(), {}), device="cpu", tile=64, overlap=16)
    calls = []
    with pytest.raises(Cancelled):
        deblurrer.deblur_to_file(image, tmp_path / "x.fits", wcs=wcs,
                                 should_stop=lambda: calls.append(1) or len(calls) > 2)
    assert os.listdir(tmp_path) == []


def test_an_existing_output_is_never_replaced(tmp_path):
    image, wcs = _frame(nan=False)
    target = tmp_path / "x.fits"
    target.write_bytes(b"keep")
    with pytest.raises(OSError, match="exists"):
        Deblurrer((_generator(), {}), device="cpu", tile=64).deblur_to_file(image, target, wcs=wcs)
    assert target.read_bytes() == b"keep"


# ----------------------------------------------------------------------------------------------
# catalogue cutouts
# ----------------------------------------------------------------------------------------------


@pytest.fixture
def tiny_model(tmp_path):
    return save_model(tmp_path / "models" / "tiny", _generator(residual=True), metadata={"description": "test"})


def _write_catalog(path, rows, header="id,ra,dec,size"):
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def _images(tmp_path):
    """Two overlapping fields 60 x 80 ground pixels, the second shifted 10" east."""
    paths = []
    for k, ra in enumerate((150.0, 150.0 + 10 / 3600 / np.cos(np.deg2rad(2.0)))):
        image, wcs = _frame((60, 80), seed=k, center=SkyCoord(ra, 2.0, unit="deg"), nan=False)
        header = fits.Header({"BUNIT": "count", "SEEING": round(0.8 + 0.1 * k, 3)})
        paths.append(write_image(tmp_path / f"field{k}.fits", image, header=header, wcs=wcs))
    return paths


def _sky(path, x, y):
    return read_image(path).wcs.pixel_to_world(x, y)


def test_catalogue_cutouts_edges_outside_and_the_results_table(tmp_path, tiny_model):
    a, b = _images(tmp_path)
    inner = _sky(a, 20.0, 30.0)  # only in field0
    edge = _sky(a, 77.0, 1.0)  # near field0's west (right) bottom corner, outside field1: a cut stamp
    both = _sky(b, 40.0, 30.0)  # in both fields, deeper inside field1
    far = SkyCoord(151.0, 2.0, unit="deg")
    catalog = _write_catalog(tmp_path / "sources.csv", [
        f"inner,{inner.ra.deg},{inner.dec.deg},",
        f"edge,{edge.ra.deg},{edge.dec.deg},2.0",
        f"both,{both.ra.deg},{both.dec.deg},",
        f"far,{far.ra.deg},{far.dec.deg},",
    ])
    out = tmp_path / "stamps"
    code = main(["deblur", str(a), str(b), "--catalog", str(catalog), "--size", "3.0", "-o", str(out),
                 "--model", str(tiny_model), "--device", "cpu", "--tile", "64", "--overlap", "16"])
    assert code == 0
    with open(out / "catalog_results.csv") as stream:
        rows = {row["id"]: row for row in csv.DictReader(stream)}
    assert list(rows) == ["inner", "edge", "both", "far"]  # catalogue order
    assert rows["far"]["status"] == "outside" and rows["far"]["output"] == ""
    assert not (out / "far_deblurred.fits").exists()
    assert rows["inner"]["status"] == rows["edge"]["status"] == rows["both"]["status"] == "ok"
    assert rows["inner"]["image"] == "field0.fits[0]" and rows["both"]["image"] == "field1.fits[0]"
    assert float(rows["both"]["seeing_arcsec"]) == pytest.approx(0.9)
    assert rows["inner"]["edge"] == "False" and float(rows["inner"]["coverage"]) == 1.0
    assert rows["edge"]["edge"] == "True" and 0.3 < float(rows["edge"]["coverage"]) < 0.6
    assert float(rows["inner"]["seconds"]) > 0

    stamp = read_image(out / "inner_deblurred.fits")
    side = int(np.ceil(3.0 / GROUND))  # 15 ground pixels -> 101 model pixels
    assert stamp.data.shape == geometry.upsampled_shape((side, side), GROUND / 0.03)
    assert stamp.pixel_scale == pytest.approx(0.03, rel=1e-6)
    assert stamp.header["SOURCEID"] == "inner" and stamp.header["EDGEPAD"] is False
    # the source's catalogue position is the stamp's centre (Cutout2D rounds to a whole ground pixel)
    x, y = stamp.wcs.world_to_pixel(inner)
    assert abs(float(x) - (stamp.data.shape[1] - 1) / 2) <= 0.5 * GROUND / 0.03 + 0.5
    assert abs(float(y) - (stamp.data.shape[0] - 1) / 2) <= 0.5 * GROUND / 0.03 + 0.5
    # the edge stamp: padded with NaN outside the image, flagged, real pixels elsewhere
    cut = read_image(out / "edge_deblurred.fits")
    assert cut.header["EDGEPAD"] is True
    nan_fraction = np.isnan(cut.data).mean()
    assert 1 - float(rows["edge"]["coverage"]) - 0.1 < nan_fraction < 1 - float(rows["edge"]["coverage"]) + 0.1
    assert np.isfinite(cut.data).sum() > 0


def test_catalogue_rerun_keeps_finished_stamps_and_python_api(tmp_path, tiny_model):
    a, _ = _images(tmp_path)
    inner = _sky(a, 30.0, 30.0)
    catalog = _write_catalog(tmp_path / "s.csv", [f"g1,{inner.ra.deg},{inner.dec.deg},2.5"])
    deblurrer = Deblurrer(tiny_model, device="cpu", tile=64, overlap=16)
    rows = deblurrer.deblur_catalog([a], catalog, tmp_path / "out")
    assert [r["status"] for r in rows] == ["ok"]
    first = (tmp_path / "out" / "g1_deblurred.fits").stat().st_mtime_ns
    again = deblurrer.deblur_catalog([a], catalog, tmp_path / "out", skip_existing=True)
    assert [r["status"] for r in again] == ["exists"]
    assert (tmp_path / "out" / "g1_deblurred.fits").stat().st_mtime_ns == first
    refused = deblurrer.deblur_catalog([a], catalog, tmp_path / "out")
    assert refused[0]["status"] == "failed" and "exists" in refused[0]["message"]


def test_catalogue_errors_are_one_clear_line(tmp_path, tiny_model, capsys):
    a, _ = _images(tmp_path)
    duplicate = _write_catalog(tmp_path / "dup.csv", ["x1,150.0,2.0,", "x2,150.0,2.0,", "x1,150.001,2.0,"])
    with pytest.raises(ValueError, match=r"dup\.csv: duplicate id 'x1' in rows 2 and 4"):
        read_catalog(duplicate, default_size=5.0)
    code = main(["deblur", str(a), "--catalog", str(duplicate), "-o", str(tmp_path / "o"), "--model", str(tiny_model)])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "duplicate id 'x1'" in err[0]
    assert not (tmp_path / "o").exists()
    with pytest.raises(ValueError, match="missing dec"):
        read_catalog(_write_catalog(tmp_path / "c.csv", ["a,1"], header="id,ra"), default_size=5.0)
    with pytest.raises(ValueError, match="row 2: ra 'abc' is not a number"):
        read_catalog(_write_catalog(tmp_path / "d.csv", ["a,abc,2,"]), default_size=5.0)
    with pytest.raises(ValueError, match="cannot name a file"):
        read_catalog(_write_catalog(tmp_path / "e.csv", ["../etc,1,2,"]), default_size=5.0)
