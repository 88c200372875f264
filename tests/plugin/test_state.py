"""Dock states: a RunStatus enum, batched updates that views hear once, typed worker updates
applied in one place."""

from seeinggan.train.callbacks import StepUpdate

from napari_seeinggan.state import DeblurState, FinetuneState, RunStatus
from napari_seeinggan.workers import PairsReady, Status, TileProgress


def test_update_fires_one_changed_and_each_fields_event():
    state = DeblurState()
    changes, messages = [], []
    state.changed.connect(changes.append)
    state.events.message.connect(messages.append)
    state.update(status=RunStatus.RUNNING, tiles_done=0, tiles_total=12, message="deblurring ground")
    assert changes == [frozenset({"status", "tiles_total", "message"})]  # tiles_done did not change
    assert messages == ["deblurring ground"]
    assert state.status == "running" and str(state.status) == "running"
    state.message = "tiles 1/12"  # a single field: one changed as well
    assert changes[-1] == frozenset({"message"}) and len(changes) == 2
    state.update(message="tiles 1/12")  # nothing changed: nothing to redraw
    assert len(changes) == 2


def test_apply_writes_worker_updates():
    deblur = DeblurState()
    changes = []
    deblur.changed.connect(changes.append)
    deblur.apply(TileProgress(3, 12))
    assert (deblur.tiles_done, deblur.tiles_total, deblur.message) == (3, 12, "tiles 3/12")
    assert len(changes) == 1
    deblur.apply(Status("adding the result"))
    assert deblur.message == "adding the result"

    finetune = FinetuneState(total_steps=50)
    finetune.apply(PairsReady(8, 2))
    assert (finetune.n_train_pairs, finetune.n_val_pairs) == (8, 2)
    finetune.apply(StepUpdate(step=7, total=0, losses={"g_total": 0.5}, lr_g=1e-4,
                              seconds_per_step=0.5, elapsed=3.5))
    assert (finetune.step, finetune.total_steps, finetune.message) == (7, 50, "step 7 of 50")
