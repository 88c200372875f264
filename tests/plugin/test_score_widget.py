"""The "Score region" dock: a rectangle over the simulated pair, the table, messages, CSV."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from napari_seeinggan import _layers
from napari_seeinggan.widgets.score import METRIC_LABELS, SHAPES_NAME, ScoreRegionWidget


@pytest.fixture(autouse=True)
def _fresh_sky_origin():
    _layers.reset_session_sky_origin()
    yield
    _layers.reset_session_sky_origin()


def _rectangle_world(layer, rows, cols):
    """World corners of a rectangle given in ``layer``'s pixel rows/cols (as a user draws it)."""
    corners = [(rows[0], cols[0]), (rows[0], cols[1]), (rows[1], cols[1]), (rows[1], cols[0])]
    return np.array([np.asarray(layer.data_to_world(c))[-2:] for c in corners])


def _score(qtbot, dock):
    """Score now, waiting for the worker (created unstarted, started inside the wait: no race)."""
    with qtbot.waitSignal(dock.signals.finished, timeout=30000):
        dock.score()


@pytest.fixture
def pair_viewer(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-seeinggan", "galaxy_pair")
    ground, space = viewer.layers
    return viewer, ground, space


def test_rectangle_over_the_galaxy_fills_the_table(pair_viewer, qtbot, tmp_path):
    viewer, ground, space = pair_viewer
    dock = ScoreRegionWidget(viewer)
    viewer.window.add_dock_widget(dock, name="Score region")
    shapes = viewer.layers[SHAPES_NAME]
    assert shapes.mode == "add_rectangle"
    assert dock.reference.value is space  # the finest grid is the default reference
    dock.tests.value = [ground, space]

    shapes.add_rectangles(_rectangle_world(space, (40, 215), (40, 215)))
    _score(qtbot, dock)
    rows = {row["name"]: row for row in dock.rows}
    print({name: {k: round(v, 4) for k, v in row.items() if k != "name"} for name, row in rows.items()})
    assert rows[space.name]["cw_ssim"] == pytest.approx(1.0)
    assert rows[space.name]["ssim"] == pytest.approx(1.0)
    # Noise-relative CW-SSIM: the ground scores by the galaxy's structure, not the sky
    # (measured 0.254; with the tiny constant the sky made it 0.021).
    assert 0.15 < rows[ground.name]["cw_ssim"] < 0.6
    # the change is against the first layer scored (the ground): the space image's gain over it
    baseline = rows[ground.name]["cw_ssim"]
    assert rows[ground.name]["cw_ssim_change_percent"] == 0.0
    assert rows[space.name]["cw_ssim_change_percent"] == pytest.approx(
        100 * (rows[space.name]["cw_ssim"] - baseline) / baseline)
    assert rows[space.name]["cw_ssim_change_percent"] > 100  # 1.0 against ~0.25
    # One column per layer, one row per measure (a laptop dock is narrow).
    table = dock.table.data.to_list()
    assert dock.table.column_headers == (ground.name, space.name)
    assert dock.table.row_headers == METRIC_LABELS
    cw = 3  # CW-SSIM's row, after band error, band power ratio and FRC resolution
    assert table[cw][1] == pytest.approx(1.0)
    assert table[cw][0] == pytest.approx(rows[ground.name]["cw_ssim"], abs=1e-4)
    # Shown with fixed decimals: CW-SSIM and SSIM 3, PSNR 2, the change 1 with a % sign.
    ground_row = rows[ground.name]
    shown = [dock.displayed_text(r, 0) for r in range(cw, cw + 4)]
    print("ground column as shown:", shown, "space column:", [dock.displayed_text(r, 1) for r in range(7)])
    assert shown == [f"{ground_row['cw_ssim']:.3f}", f"{ground_row['ssim']:.3f}", f"{ground_row['psnr']:.2f}", "+0.0%"]
    assert dock.displayed_text(cw, 1) == "1.000" and dock.displayed_text(cw + 2, 1) == "inf"
    change = rows[space.name]["cw_ssim_change_percent"]
    assert dock.displayed_text(cw + 3, 1) == f"+{change:.1f}%" and "e" not in dock.displayed_text(cw + 3, 1)
    assert "Scored 2 layer(s)" in dock.status.value and "176 x 176" in dock.status.value

    # CSV export holds the same numbers.
    path = dock.export_csv(tmp_path / "scores.csv")
    with path.open() as handle:
        exported = list(csv.DictReader(handle))
    assert [row["layer"] for row in exported] == [ground.name, space.name]
    assert float(exported[0]["cw_ssim"]) == pytest.approx(rows[ground.name]["cw_ssim"])


def test_fidelity_columns_with_the_seeing_from_the_header_or_the_field(pair_viewer, qtbot, tmp_path):
    viewer, ground, space = pair_viewer
    dock = ScoreRegionWidget(viewer)
    dock.tests.value = [ground, space]
    dock.shapes_layer().add_rectangles(_rectangle_world(space, (40, 215), (40, 215)))
    _score(qtbot, dock)
    rows = {row["name"]: row for row in dock.rows}
    print({name: {k: round(v, 4) for k, v in row.items() if k != "name"} for name, row in rows.items()})
    # The sample's ground header says SEEING = 0.9.
    assert 'seeing 0.9" (header of' in dock.status.value
    ground_row, itself = rows[ground.name], rows[space.name]
    assert itself["band_error"] == 0.0 and itself["band_power_ratio"] == pytest.approx(1.0)
    assert itself["frc_scale_arcsec"] == pytest.approx(0.06)  # agrees up to Nyquist of 0.03"/px
    # The ground image lost most of the band (measured 0.72, power 0.04, FRC 0.62").
    assert 0.6 < ground_row["band_error"] < 1.05
    assert ground_row["band_power_ratio"] < 0.2
    assert ground_row["frc_scale_arcsec"] > 0.3
    assert [dock.displayed_text(r, 0) for r in range(3)] == [
        f"{ground_row['band_error']:.3f}", f"{ground_row['band_power_ratio']:.2f}",
        f"{ground_row['frc_scale_arcsec']:.3f}"]
    assert dock.table.native.verticalHeaderItem(0).toolTip().startswith("Band error")
    assert dock.table.native.horizontalHeaderItem(0).toolTip() == ground.name
    # Without a header seeing, the dock's field sets the band: a wider band, another error.
    ground.metadata["header"] = None
    space.metadata["header"] = None
    dock.seeing.value = 1.6
    _score(qtbot, dock)
    assert 'seeing 1.6" (the seeing field)' in dock.status.value
    assert dock.rows[0]["band_error"] != pytest.approx(ground_row["band_error"], abs=1e-3)
    exported = list(csv.DictReader(dock.export_csv(tmp_path / "s.csv").open()))
    assert float(exported[0]["band_error"]) == pytest.approx(dock.rows[0]["band_error"])
    assert float(exported[0]["seeing_fwhm_arcsec"]) == 1.6


def test_moving_the_rectangle_rescores(pair_viewer, qtbot):
    viewer, ground, space = pair_viewer
    dock = ScoreRegionWidget(viewer)
    dock.tests.value = [ground]
    shapes = dock.shapes_layer()
    shapes.add_rectangles(_rectangle_world(space, (40, 215), (40, 215)))
    _score(qtbot, dock)
    first = dock.rows[0]["cw_ssim"]
    # Moving the rectangle (a data event) schedules a debounced rescore.
    with qtbot.waitSignal(dock.signals.started, timeout=5000):
        shapes.data = [_rectangle_world(space, (0, 150), (0, 150))]
    qtbot.waitUntil(lambda: not dock.busy, timeout=30000)
    qtbot.waitUntil(lambda: dock.rows and dock.rows[0]["cw_ssim"] != first, timeout=30000)
    assert "150 x 150" in dock.status.value or "151 x 151" in dock.status.value


def test_messages_for_small_outside_and_missing_rectangles(pair_viewer, qtbot):
    viewer, ground, space = pair_viewer
    dock = ScoreRegionWidget(viewer)
    dock.tests.value = [ground]
    # No rectangle yet.
    assert dock.score() is None
    assert "draw a rectangle" in dock.status.value
    shapes = dock.shapes_layer()
    # Outside the reference.
    shapes.add_rectangles(_rectangle_world(space, (400, 500), (400, 500)))
    assert dock.score() is None
    assert "outside the reference image" in dock.status.value
    # Too small for the transform.
    shapes.data = [_rectangle_world(space, (100, 150), (100, 150))]
    _score(qtbot, dock)
    assert "too small" in dock.status.value and "97x97" in dock.status.value
    assert dock.rows == []
