"""Inference: `Deblurrer` resamples, tiles, blends and returns flux units with the output WCS."""

from seeinggan.infer.deblurrer import DeblurResult, Deblurrer, resolve_device

__all__ = ["Deblurrer", "DeblurResult", "resolve_device"]
