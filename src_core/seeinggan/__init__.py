"""SeeingGAN core: deblur seeing-limited galaxy images into space-like ones.

GUI-free: this package imports neither Qt nor napari. The napari plugin (``napari_seeinggan``),
the command line (``seeinggan``) and user scripts all call it.
"""

from importlib.metadata import PackageNotFoundError, version

from seeinggan.progress import Cancelled

try:
    __version__ = version("napari-seeinggan")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["Cancelled", "Deblurrer", "__version__"]


def __getattr__(name: str):
    # Imported lazily: `import seeinggan` stays fast for the reader and the CLI's --help.
    if name == "Deblurrer":
        from seeinggan.infer import Deblurrer

        return Deblurrer
    raise AttributeError(f"module 'seeinggan' has no attribute {name!r}")
