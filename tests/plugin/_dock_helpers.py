"""Helpers shared by the Deblur / Fine-tune dock tests: tiny models, sky images, notifications."""

from __future__ import annotations

import time
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord

FIELD_CENTER = SkyCoord(150.1 * u.deg, 2.2 * u.deg)

TINY_NETWORK = {"base_channels": 4, "n_down": 2, "n_res": 1, "critic_base_channels": 4,
                "val_samples": 2, "threads": 1}
"""`FinetuneWidget.config_extra` for a network small enough to train in seconds."""


def tiny_model(path: Path, *, name: str = "tiny", seed: int = 0) -> Path:
    """Save an untrained 2-level U-Net (a few thousand parameters) as a model file."""
    import torch
    from seeinggan.models import UNetGenerator, save_model

    torch.manual_seed(seed)
    generator = UNetGenerator(base_channels=4, n_down=2, n_res=1)
    return save_model(Path(path) / name, generator, metadata={"name": name})


def sky_image(shape=(48, 48), *, pixel_scale=0.202, seed=0, center=FIELD_CENTER):
    """A noisy image with two Gaussian blobs and its TAN WCS."""
    from seeinggan import geometry

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    data = rng.normal(0.0, 1.0, shape)
    for cy, cx, flux in ((shape[0] * 0.4, shape[1] * 0.45, 300.0),
                         (shape[0] * 0.7, shape[1] * 0.7, 120.0)):
        data += flux / (2 * np.pi * 2.0**2) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 8.0)
    wcs = geometry.make_tan_wcs(center=center, pixel_scale=pixel_scale, shape=shape)
    return data.astype(np.float32), wcs


def add_sky_layer(viewer, data, wcs, name):
    """Add ``data`` as a sky-placed image layer, as the plugin's reader does."""
    import napari

    from napari_seeinggan._layers import layer_data_from_array

    return viewer.add_layer(napari.layers.Layer.create(*layer_data_from_array(data, wcs=wcs,
                                                                              name=name)))


def add_deblur_dock(viewer, *, model_dir: Path):
    """A Deblur dock in ``viewer`` with a tiny model (saved in ``model_dir``) and 64 px tiles."""
    from napari_seeinggan.widgets.deblur import DeblurWidget

    dock = DeblurWidget(viewer)
    viewer.window.add_dock_widget(dock, name="Deblur")
    dock.select_model_file(tiny_model(model_dir))
    dock.tile.value = 64
    dock.overlap.value = 16
    return dock


class Notifications:
    """Collects napari notifications (what the user sees) during a test."""

    def __init__(self):
        from napari.utils.notifications import notification_manager

        self.items = []
        self._manager = notification_manager
        notification_manager.notification_ready.connect(self._on_ready)

    def _on_ready(self, notification):
        self.items.append(notification)

    def messages(self, severity: str | None = None) -> list[str]:
        return [str(n.message) for n in self.items
                if severity is None or str(n.severity).lower() == severity]

    def close(self):
        self._manager.notification_ready.disconnect(self._on_ready)


def wait_idle(qtbot, dock, *, timeout_ms: int = 120_000):
    """Wait until ``dock``'s run is over (result handled, progress bar closed)."""
    qtbot.waitUntil(lambda: dock.state.status != "running" and dock._pbar is None,
                    timeout=timeout_ms)


class GapMeter:
    """A QTimer on the GUI thread ticking every ``interval_ms``; records the longest gap."""

    def __init__(self, interval_ms: int = 20):
        from qtpy.QtCore import QTimer

        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.ticks: list[float] = []

    def _tick(self):
        self.ticks.append(time.perf_counter())

    def start(self):
        self.ticks.clear()
        self.timer.start()

    def stop(self):
        self.timer.stop()

    def max_gap_ms_between(self, start: float, end: float, *, open_end: bool = True) -> float:
        """Longest time without a tick over ``[start, end]`` (perf_counter seconds), in ms.

        A freeze that starts before ``start`` counts from the last tick before it. With
        ``open_end`` a freeze that lasts past ``end`` counts up to the next tick; without, up to
        ``end`` (when the next phase is measured on its own).
        """
        before = [t for t in self.ticks if t < start][-1:]
        inside = [t for t in self.ticks if start <= t <= end]
        after = [t for t in self.ticks if t > end][:1] if open_end else [end]
        times = np.array(before + inside + after)
        if times.size < 2:
            return float("inf")
        return float(np.max(np.diff(times)) * 1000.0)
