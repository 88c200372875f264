"""Inference: `Deblurrer` resamples, tiles, blends and returns flux units with the output WCS."""

from seeinggan.infer.deblurrer import (
    AssumedSeeingWarning,
    Deblurrer,
    DeblurResult,
    OutOfRangeWarning,
    resolve_device,
)

__all__ = ["Deblurrer", "DeblurResult", "OutOfRangeWarning", "AssumedSeeingWarning", "resolve_device"]
