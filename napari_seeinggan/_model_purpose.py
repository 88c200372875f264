"""Tooltips that say what each model in a dock's model list is for (its JSON's ``"purpose"``).

The shipped fidelity model (``default``) is for science (photometry and structure); the
adversarial model draws realistic texture for looking and classifying, not for photometry. The
text comes from the core (`seeinggan.models.model_purpose`); nothing here decides it.
"""

from __future__ import annotations

from typing import Any

from seeinggan.models import model_purpose


def show_model_purpose(combo: Any) -> None:
    """Give every model item of a magicgui ``ComboBox`` its purpose as a tooltip.

    The box itself gets the current model's (items that are not models, e.g. "load from
    file...", get none).
    """
    from qtpy.QtCore import Qt

    native = combo.native
    for index in range(native.count()):
        path = getattr(native.itemData(index), "path", None)
        native.setItemData(index, model_purpose(path) if path is not None else None,
                           Qt.ItemDataRole.ToolTipRole)
    path = getattr(combo.value, "path", None)
    combo.tooltip = (model_purpose(path) or None) if path is not None else None
