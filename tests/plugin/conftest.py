"""Fixtures shared by the plugin tests (plain helpers live in ``_dock_helpers.py``)."""

import pytest
from _dock_helpers import Notifications


@pytest.fixture
def notifications():
    """The napari notifications shown during the test."""
    collected = Notifications()
    yield collected
    collected.close()
