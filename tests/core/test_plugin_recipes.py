"""Core functions the napari docks call instead of holding science: finer-grid placement, the
affine between two pixel grids, the deblurred layer's header."""

import numpy as np
import pytest
from astropy.io import fits
from seeinggan import geometry
from seeinggan.infer.header import deblur_history, deblurred_header


def test_finer_grid_placement_aligns_pixel_edges():
    scale, translate = geometry.finer_grid_placement(4.0, offset=(10.0, 20.0))
    assert scale == pytest.approx([0.25, 0.25])
    # Output pixel 0's left edge (-0.5) lands on input pixel 10's left edge (9.5)...
    assert (-0.5 * scale + translate) == pytest.approx([9.5, 19.5])
    # ... and 4 output pixels span exactly one input pixel.
    assert (3.5 * scale + translate) == pytest.approx([10.5, 20.5])
    assert geometry.finer_grid_placement(1.0)[1] == pytest.approx([0.0, 0.0])
    with pytest.raises(ValueError, match="> 0"):
        geometry.finer_grid_placement(0.0)


def test_affine_from_points_is_exact_for_three_corners():
    truth = np.array([[0.5, -0.2, 3.0], [0.1, 2.0, -7.0], [0.0, 0.0, 1.0]])
    source = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [5.0, 7.0]])
    target = (np.column_stack([source, np.ones(4)]) @ truth.T)[:, :2]
    assert geometry.affine_from_points(source[:3], target[:3]) == pytest.approx(truth)
    assert geometry.affine_from_points(source, target) == pytest.approx(truth)
    with pytest.raises(ValueError, match="line"):
        geometry.affine_from_points([[0, 0], [1, 1], [2, 2]], [[0, 0], [1, 1], [2, 2]])


def test_the_deblurred_layers_header_keeps_units_drops_the_old_grid_and_says_how():
    wcs = None
    header = fits.Header({"BUNIT": "ADU", "MAGZP": 27.0, "PIXSCALE": 0.202, "SEEING": 0.8})
    provenance = {"date": "2026-11-30T07:00:00+00:00", "model": "/m/default.safetensors",
                  "model_name": "default (shipped)", "input_layer": "ground", "region": "whole layer",
                  "region_pixels": [0, 40, 0, 30], "tile": 256, "overlap": "auto", "device": "cpu",
                  "pixel_scale": 0.202, "seeing": 0.8}
    # The dock's call (widgets/deblur.py): the one builder the command line uses too.
    metadata = {"pixel_scale": 0.03, "input_pixel_scale": 0.202, "seeing": 0.8, "model": "default"}
    out = deblurred_header(header, metadata, wcs=wcs, history=deblur_history(provenance))
    assert out["BUNIT"] == "ADU" and out["MAGZP"] == 27.0
    assert "SEEING" not in out and out["PIXSCALE"] == 0.03  # the output's pixels, not the input's
    assert out["SGSEEING"] == 0.8 and out["SGINSCL"] == 0.202
    history = "\n".join(map(str, out["HISTORY"]))
    for line in deblur_history(provenance):
        assert line[:40] in history
    assert deblur_history(provenance)[4] == "region: whole layer rows 0:40 cols 0:30 of the input"
    same_grid = deblurred_header(header, {**metadata, "pixel_scale": 0.202}, history=deblur_history(provenance))
    assert same_grid["PIXSCALE"] == 0.202  # same pixels: the scale still holds; the seeing does not
    assert "SEEING" not in same_grid
    assert header["PIXSCALE"] == 0.202 and header["SEEING"] == 0.8  # the input header is not modified
