"""Helpers shared by the docks (Deblur, Fine-tune, Score region): scrolling, layer choices, teardown.

The run lifecycle itself is `napari_seeinggan.widgets._lifecycle.DockRun`.
"""

import math

import napari
from magicgui.widgets import Container

DOCK_MIN_WIDTH = 320
"""Narrowest a dock may be (px): with napari's own panels, leaves the canvas room on 1366 px."""


class ScrollableDock(Container):
    """A magicgui container inside a vertical scroll area, so that a dock of any height fits a small screen.

    The napari dock holds ``widget.native``: here the scroll area.

    ``body`` is the widget inside the scroll area, whose layout takes extra native sections.
    """

    def __init__(self, **kwargs):
        super().__init__(scrollable=True, **kwargs)
        scroll = self.root_native_widget
        scroll.setMinimumWidth(DOCK_MIN_WIDTH)
        from qtpy.QtWidgets import QFrame

        scroll.setFrameShape(QFrame.Shape.NoFrame)

    @property
    def native(self):
        """The scroll area (what napari puts in the dock)."""
        return self.root_native_widget

    @property
    def body(self):
        """The widget inside the scroll area (holds the layout)."""
        return self._widget._mgui_get_native_widget()

    def fit_width(self, *labels):
        """Keep the dock's content within its width: the scroll area never scrolls sideways.

        Each of ``labels`` (magicgui ``Label``: status and summary lines) word-wraps and no
        longer asks for the width of its text; every combo box in the dock asks for a few
        characters, not for its longest item (a long model or layer name). Call once the dock's
        sections are in place.
        """
        from qtpy.QtWidgets import QComboBox

        for label in labels:
            wrap_label(label.native)
        for combo in self.body.findChildren(QComboBox):
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(COMBO_MIN_CHARS)


    def bring_into_view(self, widget) -> None:
        """Scroll the dock so that ``widget`` (a magicgui widget) is in view.

        What a run reports on (buttons, progress bar, message line), as far as the dock's height
        allows.
        """
        from qtpy.QtWidgets import QApplication

        QApplication.processEvents()  # the layout first: positions of a just-shown line
        self.native.ensureWidgetVisible(widget.native, 0, 0)


COMBO_MIN_CHARS = 18
"""Characters a dock's combo box asks room for ("default (shipped)"); longer items are elided."""


def wrap_label(label) -> None:
    """A QLabel that word-wraps and may be narrower than its longest word (clipped, never the dock)."""
    from qtpy.QtWidgets import QSizePolicy

    label.setWordWrap(True)
    label.setMinimumWidth(1)  # an explicit minimum overrides the hint (the longest word)
    policy = label.sizePolicy()  # keeps the height-for-width that word wrap set
    policy.setHorizontalPolicy(QSizePolicy.Policy.Expanding)  # the row's width, not its half
    label.setSizePolicy(policy)



def image_layer_choices(viewer) -> list[tuple[str, object]]:
    """``(name, layer)`` of the viewer's 2-D image layers a dock can work on (RGB ones are not)."""
    return [(layer.name, layer) for layer in viewer.layers
            if isinstance(layer, napari.layers.Image) and not layer.rgb]


def shapes_layer_choices(viewer) -> list[tuple[str, object]]:
    """``(name, layer)`` of the viewer's shapes layers."""
    return [(layer.name, layer) for layer in viewer.layers
            if isinstance(layer, napari.layers.Shapes)]


def layer_pixel_scale(layer) -> float | None:
    """A layer's pixel scale (arcsec/px) from its WCS or metadata, or None when unknown."""
    from napari_seeinggan._layers import layer_geometry

    try:
        return layer_geometry(layer)[2] or None
    except Exception:  # noqa: BLE001 - a layer we cannot measure has no known scale
        return None


def finest_layer(layers):
    """The layer with the smallest pixel scale (the space image); unknown scales come last."""
    return min(layers, key=lambda layer: layer_pixel_scale(layer) or math.inf)


def coarsest_layer(layers):
    """The layer with the largest pixel scale (the seeing-limited image); unknown scales last."""
    return max(layers, key=lambda layer: layer_pixel_scale(layer) or -1.0)


def on_destroyed(widget):
    """A slot for the dock's Qt ``destroyed``: stop its run, leave the shared model registry.

    Holds the dock weakly (a Qt slot must not keep it alive). Runs when napari closes or the
    dock is removed.
    """
    import weakref

    ref = weakref.ref(widget)

    def cleanup(*_):
        dock = ref()
        if dock is None:
            return
        dock._run.teardown()  # a running worker stops within a tile or a step
        dock.registry.changed.disconnect(dock._on_models_changed)
        display = getattr(dock, "display", None)
        if display is not None:  # a blink in progress stops, the layers' visibility restored
            display.close_blink()
        # The worker may still report (its end, a last step): its Qt views are gone.
        dock.state.changed.disconnect(dock._on_state_changed)

    return cleanup
