"""Training pairs: resampling with flux kept, folders, stamps from frames, regions, datasets."""

import numpy as np
import pytest
import torch
from astropy.coordinates import SkyCoord
from seeinggan.data import (
    Pair,
    PairDataset,
    SimulatedPairDataset,
    augment_arrays,
    dihedral,
    folder_pairs,
    inverse_dihedral,
    make_pair,
    pairs_from_frames,
    pairs_from_regions,
    simulated_pairs,
    stamp_size_from_r90,
    train_val_split,
)
from seeinggan.geometry import make_tan_wcs
from seeinggan.transforms import IntensityTransform

SPACE_SCALE = 0.03
GROUND_SCALE = 0.202
CENTER = SkyCoord(150.1, 2.2, unit="deg")


def _gaussians(shape, wcs, sources, *, sigma_arcsec, pixel_scale):
    """Sum of round Gaussians (total flux ``flux`` each) sampled at pixel centres of ``wcs``."""
    rows, cols = shape
    yy, xx = np.mgrid[0:rows, 0:cols]
    image = np.zeros(shape)
    for ra, dec, flux, size in sources:
        x, y = wcs.world_to_pixel(SkyCoord(ra, dec, unit="deg"))
        s = np.hypot(size, sigma_arcsec) / pixel_scale
        image += flux / (2 * np.pi * s**2) * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * s**2))
    return image


def _centroid(image, radius):
    """Centroid (y, x) with a Gaussian window of sigma ``radius`` px, iterated from the stamp's
    centre until the window is centred on it: exact for a point-symmetric source however
    blurred, and, unlike a hard-edged aperture, smooth enough to converge."""
    rows, cols = image.shape
    yy, xx = np.mgrid[0:rows, 0:cols]
    values = np.clip(np.nan_to_num(image), 0, None)
    cy, cx = (rows - 1) / 2, (cols - 1) / 2
    for _ in range(500):
        w = values * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius**2))
        ny, nx = (w * yy).sum() / w.sum(), (w * xx).sum() / w.sum()
        # the fixed point of c -> c + (centroid - c) * 2 converges in fewer steps
        ny, nx = cy + 2 * (ny - cy), cx + 2 * (nx - cx)
        if abs(ny - cy) < 1e-5 and abs(nx - cx) < 1e-5:
            break
        cy, cx = ny, nx
    return ny, nx


@pytest.fixture(scope="module")
def field():
    return _make_field()


def _make_field():
    """A space frame (0.03"/px) and a ground frame (0.202"/px, rotated 20 deg) of 7 galaxies.

    One galaxy lies on the ground frame's edge, and one on the space frame's edge.
    """
    rng = np.random.default_rng(3)
    space_shape = (480, 480)
    space_wcs = make_tan_wcs(center=CENTER, pixel_scale=SPACE_SCALE, shape=space_shape)
    ground_center = space_wcs.pixel_to_world(250.0, 220.0)
    ground_shape = (68, 68)
    ground_wcs = make_tan_wcs(
        center=ground_center, pixel_scale=GROUND_SCALE, shape=ground_shape, rotation_deg=20.0
    )
    # one galaxy on the ground frame's left edge, wherever the rotation puts it on the space frame
    edge = space_wcs.world_to_pixel(ground_wcs.pixel_to_world(0.5, 34.0))
    edge_x, edge_y = (float(v) for v in edge)
    assert 40 < edge_x < 440 and 40 < edge_y < 440
    # (x, y) pixel positions on the space frame, flux, intrinsic sigma (arcsec)
    placed = [
        (120.3, 130.6, 4000, 0.25),
        (300.7, 110.2, 2500, 0.2),
        (240.1, 250.9, 6000, 0.35),
        (370.4, 330.5, 3000, 0.2),
        (150.8, 360.1, 3500, 0.3),
        (470.0, 240.0, 3000, 0.2),  # on the space frame's right edge
        (edge_x, edge_y, 3000, 0.2),  # on the ground frame's edge
    ]
    sources = []
    for x, y, flux, size in placed:
        sky = space_wcs.pixel_to_world(x, y)
        sources.append((sky.ra.deg, sky.dec.deg, flux, size))
    space = _gaussians(space_shape, space_wcs, sources, sigma_arcsec=0.05, pixel_scale=SPACE_SCALE)
    space += rng.normal(0, 0.02, space_shape)
    ground = _gaussians(
        ground_shape, ground_wcs, sources, sigma_arcsec=0.35, pixel_scale=GROUND_SCALE
    )
    ground += rng.normal(0, 0.05, ground_shape)
    return {
        "ground": ground.astype(np.float32),
        "ground_wcs": ground_wcs,
        "space": space.astype(np.float32),
        "space_wcs": space_wcs,
        "placed": placed,
    }


# --------------------------------------------------------------------------------------------
# make_pair: the resampling the Deblurrer also uses


def test_make_pair_keeps_flux_and_position():
    ground_shape = (48, 48)  # 9.7", rotated 30 deg: covers the 6.7" space grid
    ground_wcs = make_tan_wcs(
        center=CENTER, pixel_scale=GROUND_SCALE, shape=ground_shape, rotation_deg=30
    )
    space_shape = (224, 224)
    space_wcs = make_tan_wcs(center=CENTER, pixel_scale=SPACE_SCALE, shape=space_shape)
    source = [(CENTER.ra.deg + 0.3 / 3600, CENTER.dec.deg - 0.2 / 3600, 1000.0, 0.3)]
    ground = _gaussians(
        ground_shape, ground_wcs, source, sigma_arcsec=0.4, pixel_scale=GROUND_SCALE
    )
    space = _gaussians(space_shape, space_wcs, source, sigma_arcsec=0.05, pixel_scale=SPACE_SCALE)
    pair = make_pair(ground, ground_wcs, space, space_wcs, meta={"name": "one"})
    assert pair.ground.dtype == np.float32 and pair.space.dtype == np.float32
    assert pair.mask.dtype == bool and pair.mask.all()  # the ground frame covers the space grid
    # ground total over the same sky area: 1000 counts less what falls outside 6.7" x 6.7"
    assert pair.ground.sum() == pytest.approx(space.sum(), rel=0.01)
    assert pair.ground.sum() == pytest.approx(1000.0, rel=0.01)
    # the value scale drops by the pixel-area ratio (45.3)
    assert pair.ground.max() < ground.max() / 20
    gy, gx = _centroid(pair.ground, 60)
    sy, sx = _centroid(pair.space, 60)
    assert abs(gy - sy) < 0.5 and abs(gx - sx) < 0.5
    assert pair.meta["ground_pixel_scale"] == pytest.approx(GROUND_SCALE, rel=1e-6)
    assert pair.meta["space_pixel_scale"] == pytest.approx(SPACE_SCALE, rel=1e-6)
    assert pair.meta["name"] == "one"


def test_make_pair_masks_what_the_ground_does_not_cover():
    space_wcs = make_tan_wcs(center=CENTER, pixel_scale=SPACE_SCALE, shape=(128, 128))
    # a ground image whose footprint covers only the left ~half of the space grid
    left = space_wcs.pixel_to_world(20.0, 63.5)
    # 24 x 12 ground pixels: 4.8" tall (covers all rows), 2.4" wide (space columns -20..60)
    ground_wcs = make_tan_wcs(center=left, pixel_scale=GROUND_SCALE, shape=(24, 12))
    pair = make_pair(np.ones((24, 12)), ground_wcs, np.ones((128, 128)), space_wcs)
    covered = pair.mask.mean(axis=0)
    assert covered[:50].min() == 1.0 and covered[70:].max() == 0.0
    assert np.isnan(pair.ground[~pair.mask]).all()


def test_pair_rejects_mismatched_shapes_and_missing_wcs():
    with pytest.raises(ValueError, match="one shape"):
        Pair(ground=np.zeros((4, 4)), space=np.zeros((4, 5)), mask=np.ones((4, 4), bool))
    wcs = make_tan_wcs(center=CENTER, pixel_scale=SPACE_SCALE, shape=(8, 8))
    with pytest.raises(ValueError, match="ground image has no celestial WCS"):
        make_pair(np.zeros((8, 8)), None, np.zeros((8, 8)), wcs)


# --------------------------------------------------------------------------------------------
# Stamps from two frames


def test_stamp_size_is_twice_r90_rounded_to_16_at_least_64():
    assert stamp_size_from_r90(10) == 64
    assert stamp_size_from_r90(32) == 64
    assert stamp_size_from_r90(32.5) == 80
    assert stamp_size_from_r90(100) == 208


def test_pairs_from_frames_are_aligned_and_skip_edges(field):
    pairs = pairs_from_frames(
        field["ground"], field["ground_wcs"], field["space"], field["space_wcs"]
    )
    summary = pairs.summary
    assert summary["n_sources"] == 7
    assert summary["skipped"]["off_space_edge"] == 1
    assert summary["skipped"]["off_ground_edge"] == 1
    assert len(pairs) == 5 == summary["n_pairs"]
    for pair in pairs:
        size = pair.meta["stamp_size"]
        assert pair.shape == (size, size) and size % 16 == 0 and size >= 64
        assert pair.mask.all() and np.isfinite(pair.ground).all()
        gy, gx = _centroid(pair.ground, 25)
        sy, sx = _centroid(pair.space, 25)
        # one sky position, both images, within half a space pixel
        assert abs(gy - sy) < 0.5 and abs(gx - sx) < 0.5, pair.meta["name"]
        # and the stamp is centred on the source
        assert abs(sy - (size - 1) / 2) < 0.6 and abs(sx - (size - 1) / 2) < 0.6
        # the stamp's WCS and the recorded centre agree with the frame
        y0, x0, _, _ = pair.meta["bbox"]
        sky = field["space_wcs"].pixel_to_world(x0 + (size - 1) / 2, y0 + (size - 1) / 2)
        assert sky.ra.deg == pytest.approx(pair.meta["center_ra"], abs=1e-9)
        assert sky.dec.deg == pytest.approx(pair.meta["center_dec"], abs=1e-9)
        assert np.array_equal(pair.space, field["space"][y0 : y0 + size, x0 : x0 + size])
    # brightest source first; R90 of a Gaussian of sigma s is 2.146 s (measured on the segment)
    brightest = pairs[0]
    assert brightest.meta["source_flux"] == max(p.meta["source_flux"] for p in pairs)
    s = np.hypot(0.35, 0.05)
    assert brightest.meta["r90_arcsec"] == pytest.approx(2.146 * s, rel=0.1)


def test_pairs_from_frames_fixed_size_max_pairs_and_nan(field):
    space = field["space"].copy()
    y, x = 250.9, 240.1  # the brightest galaxy: put a NaN inside its stamp
    space[int(y) + 10, int(x) - 10] = np.nan
    pairs = pairs_from_frames(
        field["ground"], field["ground_wcs"], space, field["space_wcs"], stamp_size=96, max_pairs=3
    )
    assert len(pairs) == 3 and all(p.shape == (96, 96) for p in pairs)
    assert pairs.summary["skipped"]["nan"] == 1
    assert pairs.summary["stopped_at_max_pairs"] is True


def test_pairs_from_frames_rejects_frames_that_do_not_overlap(field):
    elsewhere = SkyCoord(10, -40, unit="deg")
    far = make_tan_wcs(center=elsewhere, pixel_scale=GROUND_SCALE, shape=(68, 68))
    with pytest.raises(ValueError, match="do not overlap"):
        pairs_from_frames(field["ground"], far, field["space"], field["space_wcs"])


def test_pairs_from_regions_cut_boxes_and_mask_uncovered_parts(field):
    rectangle = np.array([[100.2, 200.0], [100.2, 263.9], [163.6, 263.9], [163.6, 200.0]])
    corners = [[300, 30], [420, 150]]  # partly beyond the ground frame (masked, kept)
    outside = [[-50, -50], [-10, -10]]
    pairs = pairs_from_regions(
        field["ground"], field["ground_wcs"], field["space"], field["space_wcs"],
        [rectangle, corners, outside],
    )
    assert pairs.summary["skipped"]["outside_space_frame"] == 1
    assert len(pairs) == 2
    first, second = pairs
    assert first.meta["bbox"] == [101, 200, 164, 264] and first.shape == (63, 64)
    assert first.mask.all()
    assert second.shape == (121, 121)
    assert 0.5 <= second.mask.mean() < 1.0
    assert np.array_equal(second.space, field["space"][300:421, 30:151])


# --------------------------------------------------------------------------------------------
# Augmentation


def test_dihedral_transforms_are_the_eight_distinct_symmetries_and_invert():
    image = np.arange(12.0).reshape(3, 4)
    outputs = {dihedral(image, k).tobytes() + bytes(dihedral(image, k).shape) for k in range(8)}
    assert len(outputs) == 8
    for k in range(8):
        assert np.array_equal(inverse_dihedral(dihedral(image, k), k), image)
        tensor = torch.from_numpy(image)[None]
        assert np.array_equal(dihedral(tensor, k)[0].numpy(), dihedral(image, k))


def test_augment_applies_the_same_transform_to_every_array():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(16, 16))
    b = 3 * a + 1
    mask = a > 0
    seen = set()
    for _ in range(40):
        ta, tb, tm = augment_arrays(a, b, mask, rng=rng)
        assert np.array_equal(tb, 3 * ta + 1)
        assert np.array_equal(tm, ta > 0)
        seen.add(ta.tobytes())
    assert len(seen) == 8


# --------------------------------------------------------------------------------------------
# Datasets


def _toy_pairs(n, shape=(80, 80), seed=0):
    rng = np.random.default_rng(seed)
    pairs = []
    for i in range(n):
        space = rng.normal(5.0, 0.5, shape).astype(np.float32)
        space[30:40, 20:50] += 50
        ground = space * 0.5 + rng.normal(0, 0.3, shape).astype(np.float32)
        mask = np.ones(shape, bool)
        mask[:3] = False
        ground[:3] = np.nan
        pairs.append(Pair(ground=ground, space=space, mask=mask, meta={"name": f"toy{i}"}))
    return pairs


def test_pair_dataset_shapes_determinism_and_finite_values():
    pairs = _toy_pairs(3)
    dataset = PairDataset(pairs, crop_size=64, seed=7)
    x, y = dataset[1]
    assert x.shape == y.shape == (1, 64, 64) and x.dtype == y.dtype == torch.float32
    again = PairDataset(pairs, crop_size=64, seed=7)[1]
    assert torch.equal(x, again[0]) and torch.equal(y, again[1])
    other = PairDataset(pairs, crop_size=64, seed=8)
    assert any(not torch.equal(dataset[i][0], other[i][0]) for i in range(3))
    for i in range(3):
        xi, yi = dataset[i]
        assert torch.isfinite(xi).all() and torch.isfinite(yi).all()
    dataset.set_epoch(1)
    epoch0 = PairDataset(pairs, crop_size=64, seed=7)
    assert any(not torch.equal(dataset[i][0], epoch0[i][0]) for i in range(3))


def test_pair_dataset_transform_fitted_on_input_applied_to_target_and_inverts():
    pairs = _toy_pairs(1)
    dataset = PairDataset(pairs, crop_size=80, augment=False, crop="center")
    sample = dataset.sample(0)
    pair = pairs[0]
    fitted = IntensityTransform.fit(np.where(pair.mask, pair.ground, np.nan))
    assert sample.transform == fitted  # fitted on the input (ground), valid pixels only
    valid = sample.mask[0].numpy()
    back_input = sample.transform.inverse(sample.input[0].numpy())
    back_target = sample.transform.inverse(sample.target[0].numpy())
    np.testing.assert_allclose(back_input[valid], pair.ground[valid], rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(back_target[valid], pair.space[valid], rtol=1e-5, atol=1e-4)
    # masked pixels hold the sky, which the transform maps to 0
    assert torch.all(sample.input[0][~sample.mask[0]] == 0)
    # the target's sky (~5) sits well above the input's (~2.5) in these toy pairs: same transform
    assert sample.target.median() > sample.input.median() + 1


def test_pair_dataset_augment_is_identical_on_input_target_and_mask():
    shape = (64, 64)
    rng = np.random.default_rng(2)
    ground = rng.normal(size=shape).astype(np.float32)
    ground[5:20, 40:60] += 30  # an asymmetric blob so all eight orientations differ
    mask = np.ones(shape, bool)
    mask[:, :4] = False
    pair = Pair(ground=ground, space=ground.copy(), mask=mask)
    dataset = PairDataset([pair], crop_size=64, augment=True, transform=None, return_mask=True)
    ks = set()
    for epoch in range(30):
        dataset.set_epoch(epoch)
        sample = dataset.sample(0)
        ks.add(sample.k)
        x, y, m = dataset[0]
        assert torch.equal(x, y)
        assert torch.equal(m[0], torch.from_numpy(dihedral(mask, sample.k)))
        turned_mask = dihedral(mask, sample.k)
        np.testing.assert_array_equal(
            x[0].numpy()[m[0].numpy()], dihedral(ground, sample.k)[turned_mask]
        )
    assert len(ks) >= 6


def test_pair_dataset_pads_small_stamps_by_reflection():
    small = np.arange(40 * 30, dtype=np.float32).reshape(40, 30)
    pair = Pair(ground=small, space=small * 2, mask=np.ones_like(small, bool))
    dataset = PairDataset([pair], crop_size=64, augment=False, transform=None, crop="center")
    x, y = dataset[0]
    assert x.shape == (1, 64, 64)
    assert torch.equal(y, 2 * x)
    values = set(np.unique(x.numpy()).tolist())
    assert values <= set(small.ravel().tolist())  # only reflected copies, nothing invented
    tiny = Pair(ground=np.ones((5, 3)), space=np.ones((5, 3)), mask=np.ones((5, 3), bool))
    assert PairDataset([tiny], crop_size=32, transform=None)[0][0].shape == (1, 32, 32)


def test_train_val_split_is_disjoint_complete_and_seeded():
    pairs = _toy_pairs(10, shape=(8, 8))
    train, val = train_val_split(pairs, val_fraction=0.2, seed=1)
    assert len(train) == 8 and len(val) == 2
    names = sorted(p.meta["name"] for p in list(train) + list(val))
    assert names == sorted(p.meta["name"] for p in pairs)
    train2, val2 = train_val_split(pairs, val_fraction=0.2, seed=1)
    assert [p.meta["name"] for p in val2] == [p.meta["name"] for p in val]
    _, small_val = train_val_split(pairs[:3], val_fraction=0.05, seed=0)
    assert len(small_val) == 1
    with pytest.raises(ValueError, match="val_fraction"):
        train_val_split(pairs, val_fraction=1.0)


# --------------------------------------------------------------------------------------------
# A folder of pairs


def _write_folder(root, names, *, ground_only=(), space_only=(), no_wcs=()):
    from seeinggan.io.fits import write_image

    (root / "ground").mkdir(parents=True)
    (root / "space").mkdir()
    source = [(CENTER.ra.deg, CENTER.dec.deg, 800.0, 0.25)]
    space_wcs = make_tan_wcs(center=CENTER, pixel_scale=SPACE_SCALE, shape=(96, 96))
    ground_wcs = make_tan_wcs(center=CENTER, pixel_scale=GROUND_SCALE, shape=(20, 20))
    ground = _gaussians((20, 20), ground_wcs, source, sigma_arcsec=0.4, pixel_scale=GROUND_SCALE)
    space = _gaussians((96, 96), space_wcs, source, sigma_arcsec=0.05, pixel_scale=SPACE_SCALE)
    for name in list(names) + list(ground_only):
        wcs = None if name in no_wcs else ground_wcs
        write_image(root / "ground" / f"{name}.fits", ground, wcs=wcs)
    for name in list(names) + list(space_only):
        write_image(root / "space" / f"{name}.fits", space, wcs=space_wcs)
    rows = "".join(f"{n},disk,0.8\n" for n in names)
    (root / "catalogue.csv").write_text("name,class,seeing_fwhm\n" + rows)
    return ground, space


def test_folder_pairs_reads_matched_pairs_with_catalogue(tmp_path):
    ground, space = _write_folder(tmp_path, ["b", "a"])
    pairs = folder_pairs(tmp_path)
    assert [p.name for p in pairs] == ["a", "b"]
    pair = pairs[0]
    assert pair.shape == (96, 96) and pair.mask.all()
    assert np.allclose(pair.space, space.astype(np.float32))
    # flux kept through the resampling: the ground image's total (both cover the same 2.9" box)
    assert pair.ground.sum() == pytest.approx(space.sum(), rel=0.01)
    assert pair.meta["class"] == "disk" and pair.meta["seeing_fwhm"] == 0.8
    assert pair.meta["ground_file"].endswith("ground/a.fits")
    assert pair.meta["space_pixel_scale"] == pytest.approx(SPACE_SCALE)
    assert pairs.summary["n_pairs"] == 2


def test_folder_pairs_lists_unmatched_names(tmp_path):
    _write_folder(tmp_path, ["a"], ground_only=["g1", "g2"], space_only=["s1"])
    with pytest.raises(ValueError) as info:
        folder_pairs(tmp_path)
    message = str(info.value)
    assert "in ground/ only (2): g1, g2" in message and "in space/ only (1): s1" in message


def test_folder_pairs_clear_errors_for_missing_folders_and_wcs(tmp_path):
    with pytest.raises(FileNotFoundError, match="pairs folder not found"):
        folder_pairs(tmp_path / "nowhere")
    (tmp_path / "ground").mkdir()
    with pytest.raises(FileNotFoundError, match="no 'space/' folder"):
        folder_pairs(tmp_path)
    other = tmp_path / "other"
    _write_folder(other, ["a", "b"], no_wcs=["b"])
    with pytest.raises(ValueError, match=r"ground/b\.fits: no celestial WCS"):
        folder_pairs(other)


# --------------------------------------------------------------------------------------------
# With the simulator (seeinggan.simulate)


@pytest.fixture(scope="module")
def sim_field():
    from seeinggan.simulate import simulate_field

    return simulate_field(seed=7, space_shape=(512, 512), n_galaxies=4, n_stars=8, seeing_fwhm=0.8)


def test_pairs_from_simulated_field_are_centred_and_aligned(sim_field):
    f = sim_field
    pairs = pairs_from_frames(f.ground, f.ground_wcs, f.space, f.space_wcs)
    summary = pairs.summary
    assert len(pairs) >= 4
    assert summary["n_sources"] - len(pairs) == sum(summary["skipped"].values())
    for pair in pairs:
        y0, x0, y1, x1 = pair.meta["bbox"]
        size = pair.meta["stamp_size"]
        assert (y1 - y0, x1 - x0) == pair.shape == (size, size) and size % 16 == 0 and size >= 64
        assert pair.mask.all() and np.array_equal(pair.space, f.space[y0:y1, x0:x1])
        cy, cx = pair.meta["source_yx"]
        assert abs(cy - (y0 + (size - 1) / 2)) <= 0.5 and abs(cx - (x0 + (size - 1) / 2)) <= 0.5
    # Alignment, free of noise: the same boxes cut from the noiseless frames; for stamps of an
    # isolated star (point-symmetric however blurred) the centroids agree within half a pixel.
    boxes = [[(y0, x0), (y1 - 1, x1 - 1)] for y0, x0, y1, x1 in (p.meta["bbox"] for p in pairs)]
    clean = pairs_from_regions(f.ground_noiseless, f.ground_wcs, f.truth, f.space_wcs, boxes)
    assert [p.meta["bbox"] for p in clean] == [p.meta["bbox"] for p in pairs]
    objects = f.params["objects"]
    sky = SkyCoord([o["ra"] for o in objects], [o["dec"] for o in objects], unit="deg")
    xy = np.column_stack(f.space_wcs.world_to_pixel(sky))
    checked = 0
    for pair in clean:
        cy, cx = (np.array(pair.meta["bbox"][:2]) + (np.array(pair.shape) - 1) / 2)
        distance = np.hypot(xy[:, 0] - cx, xy[:, 1] - cy)
        nearest = np.argsort(distance)
        star = objects[nearest[0]]["class"] == "star" and distance[nearest[0]] <= 2
        if not star or distance[nearest[1]] < 100:  # isolated: no other object within 3"
            continue
        gy, gx = _centroid(pair.ground, 10)
        sy, sx = _centroid(pair.space, 10)
        assert abs(gy - sy) < 0.5 and abs(gx - sx) < 0.5, pair.meta["name"]
        checked += 1
    assert checked >= 2


def test_pairs_from_simulated_field_skip_stamps_off_the_ground_frame(sim_field):
    f = sim_field
    full = pairs_from_frames(f.ground, f.ground_wcs, f.space, f.space_wcs)
    # cut the ground frame through the brightest source: its stamp loses part of its ground
    brightest_x = full[0].meta["source_yx"][1]
    gx, _ = f.ground_wcs.world_to_pixel(f.space_wcs.pixel_to_world(brightest_x, 256.0))
    cols = int(round(float(gx)))
    ground_wcs = f.ground_wcs.slice((slice(None), slice(0, cols)))
    cut = pairs_from_frames(f.ground[:, :cols], ground_wcs, f.space, f.space_wcs)
    assert cut.summary["skipped"]["off_ground_edge"] >= 1
    assert len(cut) < len(full)
    assert all(p.meta["source_flux"] != full[0].meta["source_flux"] for p in cut)
    # detection is limited to the ground frame's footprint, which now ends at this space column
    edge = float(f.space_wcs.world_to_pixel(ground_wcs.pixel_to_world(cols - 0.5, 0.0))[0])
    assert edge <= cut.summary["overlap_bbox"][3] <= edge + 1.5  # pixels partly covered count
    for pair in cut:
        assert pair.mask.all() and pair.meta["bbox"][3] <= edge + 0.5


def test_simulated_pairs_are_lazy_reproducible_and_keep_flux():
    from seeinggan.simulate import pair_seed, simulate_pair

    pairs = simulated_pairs(n=3, seed=11, space_shape=(64, 64))
    assert len(pairs) == 3
    first, again = pairs[1], pairs[1]
    assert np.array_equal(first.space, again.space) and first.name == "sim_11_000001"
    assert not np.array_equal(pairs[0].space, first.space)
    assert first.meta["class"] and 0.5 <= first.meta["seeing_fwhm"] <= 1.2
    # the same stamp as simulate_pair with the documented seed
    direct = simulate_pair(seed=pair_seed(11, 1), space_shape=(64, 64))
    assert np.array_equal(first.space, direct.space)
    assert first.mask.mean() > 0.9  # the ground stamp covers the space stamp (edge pixels aside)


def test_simulated_star_keeps_its_flux_through_the_resampling():
    from seeinggan.simulate import simulate_pair

    # a star in good seeing, all its light in the stamp: ground counts on the space grid = counts
    # in the ground stamp = counts in the space image
    sim = simulate_pair(seed=2, morphology="star", seeing_fwhm=0.6, noise=False,
                        field_star_rate=0, space_shape=(160, 160))
    pair = make_pair(sim.ground, sim.ground_wcs, sim.space, sim.space_wcs)
    total = np.nansum(pair.ground)
    assert total == pytest.approx(sim.ground.sum(), rel=0.01)
    assert total == pytest.approx(sim.space.sum(), rel=0.01)


def test_simulated_dataset_brings_new_pairs_each_epoch_unless_asked():
    dataset = SimulatedPairDataset(epoch_size=2, seed=5, crop_size=32, space_shape=(48, 48))
    assert len(dataset) == 2
    x0, y0 = dataset[0]
    assert x0.shape == y0.shape == (1, 32, 32) and torch.isfinite(x0).all()
    assert torch.equal(dataset[0][0], x0)  # deterministic
    dataset.set_epoch(1)
    assert dataset.stream_index(0) == 2
    assert not torch.equal(dataset[0][1], y0)
    fixed = SimulatedPairDataset(epoch_size=2, n_unique=2, seed=5, crop_size=None, augment=False,
                                 space_shape=(48, 48))
    first = fixed[1][1]
    fixed.set_epoch(3)
    assert fixed.stream_index(1) == 1 and torch.equal(fixed[1][1], first)


def test_folder_pairs_reads_what_write_pairs_wrote(tmp_path):
    from seeinggan.simulate import write_pairs

    root = write_pairs(tmp_path / "pairs", n=3, seed=4, space_shape=(64, 64))
    pairs = folder_pairs(root)
    assert len(pairs) == 3
    lazy = simulated_pairs(n=3, seed=4, space_shape=(64, 64))
    for read, made in zip(pairs, lazy, strict=True):
        assert read.meta["class"] == made.meta["class"]
        assert read.meta["seeing_fwhm"] == pytest.approx(made.meta["seeing_fwhm"], rel=1e-6)
        np.testing.assert_allclose(read.space, made.space, rtol=1e-6)
        np.testing.assert_allclose(
            read.ground[read.mask], made.ground[made.mask], rtol=1e-4, atol=1e-4
        )
