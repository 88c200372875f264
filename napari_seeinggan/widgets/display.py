"""Display controls as DS9 users know them: stretch presets and limits, and a blink.

- **Stretch** (linear, log, asinh, sqrt) with **limits** (min-max, zscale, 99.5%). napari image
  layers offer only a linear ramp between contrast limits (and gamma), so a stretch is shown as a
  colormap whose control points follow the stretch curve, and the limits become the contrast
  limits. The data, and its flux units, are never changed. Curves and limits come from
  `seeinggan.display` (astropy's stretches and intervals): no science here.
- **Blink** between a layer and its deblurred output (or input): a `QTimer` shows one, then the
  other, every *interval* milliseconds; stopping (the box unticked, either layer removed, the
  dock closed) restores both layers' visibility.

The controls sit in the Deblur dock, in a collapsible "display" section (`DisplayControls`).
"""

from __future__ import annotations

import napari
from magicgui.widgets import CheckBox, ComboBox, Container, SpinBox

from napari_seeinggan.widgets._common import image_layer_choices

__all__ = ["Blinker", "DisplayControls", "apply_stretch", "blink_partner"]

DEFAULT_BLINK_MS = 500
NO_PARTNER = "(none)"


def apply_stretch(layer, *, stretch: str, interval: str) -> tuple[float, float]:
    """Show ``layer`` with a DS9 stretch between limits; returns the limits.

    The layer's colormap becomes its base colormap (the one it had before any stretch, "gray"
    for the plugin's images) sampled at `seeinggan.display.stretch_control_points`; its contrast
    limits become `seeinggan.display.display_limits` of its full-resolution data; gamma is 1.
    ``layer.metadata["display"]`` records the choice. The data are not touched.
    """
    from napari.utils.colormaps import Colormap, ensure_colormap
    from seeinggan.display import display_limits, stretch_control_points

    data = layer.data[0] if getattr(layer, "multiscale", False) else layer.data
    low, high = display_limits(data, interval=interval)
    meta = layer.metadata.setdefault("display", {})
    base = meta.get("base_colormap") or layer.colormap.name
    meta.update({"stretch": stretch, "interval": interval, "limits": [low, high],
                  "base_colormap": base})
    controls, levels = stretch_control_points(stretch)
    colors = ensure_colormap(base).map(levels)
    layer.colormap = Colormap(colors=colors, controls=controls, name=f"{base} {stretch}",
                              display_name=f"{base} ({stretch})")
    if low < layer.contrast_limits_range[0] or high > layer.contrast_limits_range[1]:
        layer.contrast_limits_range = (min(low, layer.contrast_limits_range[0]),
                                       max(high, layer.contrast_limits_range[1]))
    layer.contrast_limits = (low, high)
    layer.gamma = 1.0
    return low, high


def blink_partner(layer, layers):
    """The layer to blink ``layer`` with, or None.

    Its deblurred output (the last one made), or, for a deblurred layer, its input.
    """
    if layer is None:
        return None
    images = [other for other in layers if isinstance(other, napari.layers.Image)
              and other is not layer]
    meta = layer.metadata or {}
    if "deblur" in meta:
        source = (meta.get("provenance") or {}).get("input_layer")
        return next((other for other in images if other.name == source), None)
    outputs = [other for other in images if "deblur" in (other.metadata or {})
               and ((other.metadata.get("provenance") or {}).get("input_layer") == layer.name)]
    return outputs[-1] if outputs else None


class Blinker:
    """Alternates the visibility of two layers with a `QTimer` (DS9's blink).

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        Removing either layer from it stops the blink.
    parent : QObject, optional
        Owner of the timer (it dies with its parent).
    """

    def __init__(self, viewer, parent=None):
        from qtpy.QtCore import QTimer

        self._viewer = viewer
        self.timer = QTimer(parent)
        self.timer.timeout.connect(self.tick)
        self.layers: tuple | None = None
        self._visible: tuple[bool, bool] = (True, True)
        self.showing = 0
        """Index (0 or 1) of the layer shown now."""
        self.on_stopped = None
        """Called (without arguments) when the blink stops for any reason."""
        viewer.layers.events.removed.connect(self._on_removed)

    @property
    def running(self) -> bool:
        """True while blinking."""
        return self.layers is not None

    def start(self, first, second, *, interval_ms: int = DEFAULT_BLINK_MS) -> None:
        """Show ``first`` alone, then ``second`` alone, alternating every ``interval_ms``."""
        if first is None or second is None or first is second:
            raise ValueError("choose two different layers to blink")
        self.stop()
        self.layers = (first, second)
        self._visible = (bool(first.visible), bool(second.visible))
        self.showing = 1
        self.tick()
        self.timer.setInterval(int(interval_ms))
        self.timer.start()

    def set_interval(self, interval_ms: int) -> None:
        """Blink every ``interval_ms`` milliseconds from now on."""
        self.timer.setInterval(int(interval_ms))

    def tick(self) -> None:
        """Show the other layer."""
        if self.layers is None:
            return
        self.showing = 1 - self.showing
        shown, hidden = self.layers[self.showing], self.layers[1 - self.showing]
        shown.visible = True
        hidden.visible = False

    def stop(self) -> None:
        """Stop blinking; the layers get back the visibility they had (those still open)."""
        try:
            self.timer.stop()
        except RuntimeError:  # the timer's Qt object is gone (the dock was closed)
            pass
        layers, self.layers = self.layers, None
        if layers is None:
            return
        for layer, visible in zip(layers, self._visible, strict=True):
            if layer in self._viewer.layers:
                layer.visible = visible
        if self.on_stopped is not None:
            self.on_stopped()

    def _on_removed(self, event) -> None:
        if self.layers is not None and event.value in self.layers:
            self.stop()

    def close(self) -> None:
        """Stop, and stop listening to the viewer."""
        self.stop()
        self._viewer.layers.events.removed.disconnect(self._on_removed)


class DisplayControls(Container):
    """Stretch, limits and blink for one image layer (the selected one by default).

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        Its image layers are offered.
    """

    def __init__(self, viewer: napari.viewer.Viewer):
        from seeinggan.display import INTERVALS, STRETCHES

        super().__init__(labels=True)
        self._viewer = viewer
        self.layer = ComboBox(label="layer", choices=self._layer_choices,
                              tooltip="The layer to stretch (follows the selected layer)")
        self.stretch = ComboBox(label="stretch", choices=list(STRETCHES), value="linear",
                                tooltip="DS9's scales; the colormap follows the curve, the data "
                                        "(flux units) are not changed")
        self.limits = ComboBox(label="limits", choices=list(INTERVALS), value="zscale",
                               tooltip="min-max: the data's extremes; zscale: IRAF's; 99.5%: "
                                       "the central 99.5% of the pixels")
        self.partner = ComboBox(label="blink with", choices=self._partner_choices,
                                tooltip="The layer to alternate with (its deblurred output, or "
                                        "its input, by default)")
        self.interval = SpinBox(label="every (ms)", min=100, max=5000, step=100,
                                value=DEFAULT_BLINK_MS)
        self.blink = CheckBox(text="blink", value=False,
                              tooltip="Alternate the two layers (stops when unticked, when "
                                      "either layer is removed or the dock closes)")
        self.extend([self.layer, self.stretch, self.limits, self.partner, self.interval,
                     self.blink])
        self.blinker = Blinker(viewer, parent=self.native)
        self.blinker.on_stopped = self._on_blink_stopped

        self.stretch.changed.connect(self.apply)
        self.limits.changed.connect(self.apply)
        self.layer.changed.connect(self._on_layer_changed)
        self.blink.changed.connect(self._on_blink_toggled)
        self.interval.changed.connect(lambda value: self.blinker.set_interval(value))
        for event in ("inserted", "removed", "reordered"):
            getattr(viewer.layers.events, event).connect(self._on_layers_changed)
        viewer.layers.selection.events.active.connect(self._on_active_layer)
        self._on_active_layer()

    def _layer_choices(self, _widget=None):
        return image_layer_choices(self._viewer)

    def _partner_choices(self, _widget=None):
        return [(NO_PARTNER, None), *[(name, layer) for name, layer in
                                      image_layer_choices(self._viewer)
                                      if layer is not self.layer.value]]

    def _on_layers_changed(self, _event=None):
        current = self.partner.value
        self.reset_choices()
        if current is not None and current in self.partner.choices:
            self.partner.value = current
        else:
            self._guess_partner()

    def _on_active_layer(self, _event=None):
        active = self._viewer.layers.selection.active
        self.reset_choices()
        if isinstance(active, napari.layers.Image) and active in self.layer.choices:
            self.layer.value = active

    def _on_layer_changed(self, layer):
        if layer is None:
            return
        self.partner.reset_choices()
        self._guess_partner()
        shown = (layer.metadata or {}).get("display") or {}
        with self.stretch.changed.blocked(), self.limits.changed.blocked():
            self.stretch.value = shown.get("stretch", "linear")
            self.limits.value = shown.get("interval", "zscale")

    def _guess_partner(self):
        partner = blink_partner(self.layer.value, self._viewer.layers)
        if partner in self.partner.choices:
            self.partner.value = partner

    def apply(self, _=None) -> tuple[float, float] | None:
        """Show the chosen layer with the chosen stretch and limits; returns the limits."""
        layer = self.layer.value
        if layer is None:
            return None
        return apply_stretch(layer, stretch=self.stretch.value, interval=self.limits.value)

    def _on_blink_toggled(self, on: bool):
        if not on:
            self.blinker.stop()
            return
        try:
            self.blinker.start(self.layer.value, self.partner.value,
                               interval_ms=int(self.interval.value))
        except ValueError as error:
            from napari.utils.notifications import show_warning

            show_warning(f"Blink: {error}")
            with self.blink.changed.blocked():
                self.blink.value = False

    def _on_blink_stopped(self):
        try:
            with self.blink.changed.blocked():
                self.blink.value = False
        except RuntimeError:  # the check box is gone (the dock was closed)
            pass

    def stop_blink_when_removed(self, dock_widget) -> None:
        """Stop blinking when ``dock_widget`` (the dock holding these controls) leaves the window.

        napari's close button takes a dock out (``remove_dock_widget``) without destroying it.
        """
        from qtpy.QtCore import QEvent, QObject

        blinker = self.blinker

        class RemovalWatch(QObject):
            def eventFilter(self, watched, event):  # noqa: N802 - Qt's name
                if event.type() == QEvent.Type.ParentChange and watched.parent() is None:
                    blinker.stop()
                return False

        self._removal_watch = RemovalWatch(dock_widget)
        dock_widget.installEventFilter(self._removal_watch)

    def close_blink(self):
        """Stop blinking and let go of the viewer (the dock is closing)."""
        self.blinker.on_stopped = None
        self.blinker.close()
