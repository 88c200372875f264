"""The "Simulated galaxy pair" sample: two layers that overlay on the sky."""

import numpy as np
import pytest
from astropy.coordinates import SkyCoord

from napari_seeinggan import _layers
from napari_seeinggan._sample_data import SAMPLE_SEEING, simulated_galaxy_pair

HALF_HST_PIXEL = 0.015  # arcsec


@pytest.fixture(autouse=True)
def _fresh_sky_origin():
    _layers.reset_session_sky_origin()
    yield
    _layers.reset_session_sky_origin()


def _centroid(data: np.ndarray, radius_fraction: float = 0.35) -> tuple[float, float]:
    """Light-weighted (row, col) inside a central circle (noise outside it only adds scatter)."""
    rows, cols = np.indices(data.shape, dtype=float)
    centre = (np.array(data.shape) - 1) / 2.0
    inside = np.hypot(rows - centre[0], cols - centre[1]) < radius_fraction * data.shape[0]
    weights = np.where(inside, np.clip(data, 0, None), 0.0)
    return float((weights * rows).sum() / weights.sum()), float((weights * cols).sum() / weights.sum())


def test_sample_contribution_gives_two_overlaying_layers(make_napari_viewer):
    viewer = make_napari_viewer()
    layers = viewer.open_sample("napari-seeinggan", "galaxy_pair")
    assert len(layers) == 2 and len(viewer.layers) == 2
    ground, space = viewer.layers
    assert ground._type_string == "image" and space._type_string == "image"
    assert ground.name == f'ground (simulated, seeing {SAMPLE_SEEING:.1f}")'
    assert space.name == "space (simulated)"
    assert ground.data.shape == (38, 38) and space.data.shape == (256, 256)
    info = ground.metadata["simulation"]
    assert info["class"] == "barred-spiral" and info["arms"] == 2
    # The galaxy's catalogued centre, through each layer's own geometry, lands on the same
    # world point.
    galaxy = SkyCoord(info["ra"], info["dec"], unit="deg")
    world = []
    for layer in (ground, space):
        _, wcs, scale = _layers.layer_geometry(layer)
        assert scale == pytest.approx(0.202 if layer is ground else 0.03)
        col, row = (float(v) for v in wcs.world_to_pixel(galaxy))
        world.append(np.asarray(layer.data_to_world((row, col)))[-2:])
    assert np.hypot(*(world[0] - world[1])) < HALF_HST_PIXEL
    # And the light itself: the centroid of each image maps to the same world point.
    lit = [np.asarray(layer.data_to_world(_centroid(np.asarray(layer.data, float))))[-2:]
           for layer in (ground, space)]
    print("world offset between the two images' light centroids (arcsec):", lit[0] - lit[1])
    assert np.hypot(*(lit[0] - lit[1])) < HALF_HST_PIXEL
    # World units are arcsec: one ground pixel spans 0.202 of them.
    step = np.asarray(ground.data_to_world((1, 0)))[-2:] - np.asarray(ground.data_to_world((0, 0)))[-2:]
    assert np.hypot(*step) == pytest.approx(0.202, rel=1e-6)


def test_sample_function_is_deterministic_and_documented_units():
    (g1, gk, gt), (s1, sk, st) = simulated_galaxy_pair()
    (g2, _, _), (s2, _, _) = simulated_galaxy_pair()
    np.testing.assert_array_equal(g1, g2)
    np.testing.assert_array_equal(s1, s2)
    assert gt == st == "image"
    assert gk["metadata"]["header"]["BUNIT"] == "count"
    assert gk["metadata"]["header"]["SEEING"] == pytest.approx(SAMPLE_SEEING)
    # One flux scale: the ground and space images hold the same counts (noise aside).
    assert g1.sum() == pytest.approx(s1.sum(), rel=0.02)
