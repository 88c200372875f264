"""Shared test set-up.

Core tests (tests/core) import neither Qt nor napari; plugin tests (tests/plugin) run under Xvfb
through pytest-xvfb and use napari's `make_napari_viewer` fixture.
"""

import os
import tempfile

import pytest

# napari settings (e.g. the preferred FITS reader that `python -m napari_seeinggan` sets) go to a
# throw-away file, never the user's own.
os.environ.setdefault("NAPARI_CONFIG", os.path.join(tempfile.mkdtemp(prefix="napari-settings-"), "settings.yaml"))

# Two cores are shared by the whole suite: one torch thread per test process keeps timings sane.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def _user_models_in_tmp(tmp_path_factory, monkeypatch):
    """Never touch the real per-user models folder from a test."""
    models = tmp_path_factory.mktemp("user-models")
    monkeypatch.setenv("SEEINGGAN_USER_MODELS_DIR", str(models))
    yield
