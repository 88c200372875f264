"""The plugin's error path (issue 13): user errors one line, bugs with their traceback, once.

Fine-tune Save checks names like the command line and asks before replacing a model; the Score
dock reports a worker failure once; the warm-up thread never prints a traceback.
"""

import sys
import threading

import numpy as np
import pytest
from _dock_helpers import add_sky_layer, sky_image
from seeinggan.errors import FitsReadError

from napari_seeinggan._errors import report_error


def _errors(notifications):
    return [n for n in notifications.items if str(n.severity).lower() == "error"]


def test_user_error_is_one_line_and_a_bug_keeps_its_traceback(make_napari_viewer, notifications):
    make_napari_viewer()
    text = report_error(FitsReadError("x.fits: truncated"), context="Open failed")
    assert text == "x.fits: truncated"
    try:
        {}["missing"]
    except KeyError as error:
        bug = error
    text = report_error(bug, context="Deblur failed")
    assert text == "KeyError: 'missing'"
    shown = _errors(notifications)
    assert [str(n.message) for n in shown][0] == "Open failed: x.fits: truncated"
    assert getattr(shown[0], "exception", None) is None  # a plain one-line notification
    assert shown[1].exception is bug  # napari's ErrorNotification: "View Traceback"
    assert shown[1].exception.__traceback__ is not None


@pytest.fixture
def finetune(make_napari_viewer, tmp_path):
    from seeinggan.train import TrainConfig, Trainer

    from napari_seeinggan.widgets.finetune import FinetuneWidget

    viewer = make_napari_viewer()
    widget = FinetuneWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Fine-tune")
    config = TrainConfig(steps=1, batch_size=2, crop_size=32, base_channels=4,
                         critic_base_channels=4, structural=0.0, device="cpu",
                         output_dir=str(tmp_path / "run"))
    widget.trainer = Trainer(config, train_pairs=[(np.zeros((1, 32, 32), np.float32),) * 2] * 2)
    return widget


@pytest.mark.parametrize("name", ["default", "DEFAULT", "a.json", "CON", "con.txt", "../escaped", ""])
def test_finetune_save_refuses_unsafe_or_shipped_names(finetune, notifications, name):
    from seeinggan.models.io import user_models_dir

    finetune.model_name.value = name
    assert finetune.save() is None
    assert len(_errors(notifications)) == 1
    folder = user_models_dir()
    assert not folder.exists() or not any(folder.iterdir())
    assert not (folder.parent / "escaped.safetensors").exists()


def _answer_question(qtbot, button):
    """Click `button` on the question box as soon as it is open (the test runs headless)."""
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication, QMessageBox

    seen = []

    def click():
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            seen.append(box.text())
            box.button(button).click()
        else:
            QTimer.singleShot(20, click)

    QTimer.singleShot(20, click)
    return seen


def test_finetune_save_asks_before_replacing(finetune, qtbot):
    from qtpy.QtWidgets import QMessageBox
    from seeinggan.models.io import read_metadata

    finetune.model_name.value = "my-field"
    first = finetune.save()
    assert first is not None and first.exists()
    created = read_metadata(first)["created"]
    before = first.read_bytes()
    # Same name, the user says No: nothing replaced.
    finetune.model_name.value = "my-field"
    seen = _answer_question(qtbot, QMessageBox.StandardButton.No)
    assert finetune.save() is None
    assert seen and "'my-field' exists" in seen[0]
    assert first.read_bytes() == before and finetune.state.message.startswith("not saved")
    # Yes: replaced (a new JSON; the weights file is whole).
    with torch_seed(5):
        for parameter in finetune.trainer.generator.parameters():
            parameter.data.add_(0.5)
    finetune.model_name.value = "my-field"
    seen = _answer_question(qtbot, QMessageBox.StandardButton.Yes)
    again = finetune.save()
    assert seen and again == first
    assert first.read_bytes() != before
    assert read_metadata(first)["name"] == "my-field" and read_metadata(first)["created"] >= created


class torch_seed:
    def __init__(self, seed):
        self.seed = seed

    def __enter__(self):
        import torch

        torch.manual_seed(self.seed)

    def __exit__(self, *exc):
        return False


def test_score_dock_reports_a_worker_failure_once(make_napari_viewer, qtbot, notifications,
                                                  monkeypatch):
    from napari_seeinggan.widgets import score as score_module

    viewer = make_napari_viewer()
    data, wcs = sky_image((64, 64))
    add_sky_layer(viewer, data, wcs, "ref")
    add_sky_layer(viewer, data * 1.1, wcs, "test")
    dock = score_module.ScoreRegionWidget(viewer)
    viewer.window.add_dock_widget(dock, name="Score")
    dock.reference.value = viewer.layers["ref"]
    dock.tests.value = [viewer.layers["test"]]
    ref = viewer.layers["ref"]  # the rectangle in world (sky) coordinates over reference pixels 8-50
    dock.shapes_layer().add_rectangles(np.array([ref.data_to_world([8, 8]), ref.data_to_world([50, 50])]))

    def broken(request):
        raise RuntimeError("scoring exploded")

    monkeypatch.setattr(score_module, "score_request", broken)
    dock._timer.stop()
    worker = dock.score()
    qtbot.waitUntil(lambda: not dock.busy, timeout=20_000)
    qtbot.wait(200)
    failures = [n for n in notifications.items if "scoring exploded" in str(n.message)]
    assert len(failures) == 1, [str(n.message) for n in notifications.items]
    assert isinstance(failures[0].exception, RuntimeError)  # with its traceback
    assert dock.status.value == "scoring failed: RuntimeError: scoring exploded"
    assert worker is not None


def test_warm_up_never_prints_a_traceback(monkeypatch):
    from napari_seeinggan import workers

    hooks = []
    monkeypatch.setattr(threading, "excepthook", lambda args: hooks.append(args))
    monkeypatch.setattr(workers, "_WARM_UP", None)
    monkeypatch.setitem(sys.modules, "torch._dynamo", None)  # the import fails (as at shutdown)
    thread = workers.warm_up_training_imports()
    thread.join(30)
    assert not thread.is_alive()
    assert hooks == []
