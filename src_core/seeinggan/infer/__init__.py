"""Inference: `Deblurrer` resamples, tiles, blends and returns flux units with the output WCS."""

from seeinggan.infer.deblurrer import Deblurrer, DeblurResult, resolve_device

__all__ = ["DeblurResult", "Deblurrer", "resolve_device"]
