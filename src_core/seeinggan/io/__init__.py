"""Reading and writing image files (FITS)."""

from seeinggan.io.fits import (
    FitsImage,
    FitsReadError,
    FitsWriteError,
    read_image,
    read_images,
    write_image,
)

__all__ = ["FitsImage", "FitsReadError", "FitsWriteError", "read_image", "read_images", "write_image"]
