"""napari-seeinggan: the napari plugin (readers, writer, sample data, docks) over `seeinggan`.

Thin by design: the science lives in the GUI-free core package `seeinggan`.
"""

from seeinggan import __version__

__all__ = ["__version__"]
