"""The Deblur and Fine-tune docks list the shipped models by name and say what each is for
(the model JSON's "purpose") in a tooltip."""

from qtpy.QtCore import Qt

from napari_seeinggan.widgets.deblur import DeblurWidget
from napari_seeinggan.widgets.finetune import FinetuneWidget


def _item_tooltips(combo):
    native = combo.native
    return {native.itemText(i): native.itemData(i, Qt.ItemDataRole.ToolTipRole) for i in range(native.count())}


def test_both_docks_show_each_shipped_models_purpose(make_napari_viewer):
    from seeinggan.models.io import list_models

    viewer = make_napari_viewer()
    shipped = {f"{e.name} (shipped)": e.purpose for e in list_models() if e.shipped}
    assert shipped["default (shipped)"] == "science: photometry and structure"
    deblur = DeblurWidget(viewer)
    finetune = FinetuneWidget(viewer)
    for combo in (deblur.model, finetune.start_model):
        tips = _item_tooltips(combo)
        for label, purpose in shipped.items():
            assert tips[label] == purpose
        combo.value = next(v for v in combo.choices if getattr(v, "label", "") == "default (shipped)")
        assert combo.tooltip == "science: photometry and structure"
