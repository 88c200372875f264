"""The "Simulated galaxy pair" sample: a barred two-armed spiral seen from the ground and space.

Both images come from `seeinggan.simulate.simulate_pair` (no science here) and are placed on
the sky with the plugin's layer helpers, so the 0.202"/px ground image and the 0.03"/px space
image overlay in world coordinates (arcsec about the session's sky origin).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from napari_seeinggan._layers import attach_current_viewer, layer_data_from_array

SAMPLE_SEED = 128
"""A barred spiral with two open arms, bright and nearly face-on."""

SAMPLE_SEEING = 0.9
"""Seeing FWHM of the ground image, arcsec."""


def simulated_galaxy_pair() -> list[tuple[Any, dict[str, Any], str]]:
    """Two image layers: the ground image (seeing 0.9") and the space image of one galaxy.

    Returns
    -------
    list of LayerDataTuple
        ``[ground, space]``; each layer's metadata has the WCS, header and pixel scale, and
        its affine places it on the sky.
    """
    from seeinggan.simulate import simulate_pair

    attach_current_viewer()
    pair = simulate_pair(seed=SAMPLE_SEED, morphology="barred-spiral",
                         seeing_fwhm=SAMPLE_SEEING, field_star_rate=0)
    seeing = pair.params["seeing_fwhm"]
    layers = []
    for label, data, wcs, header, noise in (
        (f'ground (simulated, seeing {seeing:.1f}")', pair.ground, pair.ground_wcs,
         pair.ground_header, pair.params["ground_sky_noise"]),
        ("space (simulated)", pair.space, pair.space_wcs, pair.space_header,
         pair.params["space_sky_noise"]),
    ):
        layer = layer_data_from_array(
            data, wcs=wcs, name=label,
            metadata={"header": header, "source_path": None, "simulation": _summary(pair.params)},
            # From the sky noise to near the peak, on a square-root-like stretch (gamma), so
            # that the arms, the bar and the clumps show in both images.
            contrast_limits=(-noise, float(np.percentile(data, 99.9))),
        )
        layer[1]["gamma"] = 0.5
        layers.append(layer)
    return layers


def _summary(params: dict[str, Any]) -> dict[str, Any]:
    keys = ("class", "seed", "seeing_fwhm", "psf_model", "flux", "mag", "r_e", "arms",
            "pitch_angle", "bar_length", "ra", "dec")
    return {key: params[key] for key in keys if key in params}
