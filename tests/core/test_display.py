"""Display stretches and limits (`seeinggan.display`): astropy's curves and intervals, with
real numbers."""

import numpy as np
import pytest
from astropy.visualization import AsinhStretch, LogStretch, SqrtStretch, ZScaleInterval
from seeinggan.display import (
    INTERVALS,
    STRETCHES,
    display_limits,
    stretch_control_points,
    stretch_function,
)


@pytest.mark.parametrize("name, astropy_stretch", [("log", LogStretch()), ("asinh", AsinhStretch()),
                                                   ("sqrt", SqrtStretch())])
def test_control_points_follow_the_astropy_curve(name, astropy_stretch):
    controls, levels = stretch_control_points(name)
    assert controls[0] == 0.0 and controls[-1] == 1.0 and np.all(np.diff(controls) > 0)
    assert levels[0] == 0.0 and levels[-1] == 1.0 and np.all(np.diff(levels) >= 0)
    # Between control points the colormap interpolates linearly: within 1% of the curve anywhere.
    x = np.linspace(0.0, 1.0, 2001)
    exact = astropy_stretch(x.copy())
    assert np.max(np.abs(np.interp(x, controls, levels) - exact)) < 0.01
    # The midpoint is a control point: exact there.
    assert np.interp(0.5, controls, levels) == pytest.approx(float(astropy_stretch(np.array([0.5]))[0]))


def test_known_values_of_the_stretches():
    half = np.array([0.5])
    assert stretch_function("linear")(half.copy())[0] == pytest.approx(0.5)
    assert stretch_function("sqrt")(half.copy())[0] == pytest.approx(np.sqrt(0.5))
    # astropy's LogStretch(a=1000): log(a x + 1) / log(a + 1).
    assert stretch_function("log")(half.copy())[0] == pytest.approx(np.log(501) / np.log(1001))
    # AsinhStretch(a=0.1): asinh(x / a) / asinh(1 / a).
    assert stretch_function("asinh")(half.copy())[0] == pytest.approx(np.arcsinh(5) / np.arcsinh(10))
    with pytest.raises(ValueError, match="unknown stretch 'cube'"):
        stretch_function("cube")
    assert STRETCHES == ("linear", "log", "asinh", "sqrt")


def test_limits_ignore_nan_and_match_astropy():
    rng = np.random.default_rng(1)
    data = rng.normal(10.0, 2.0, (300, 300))
    data[5, 5] = 500.0  # a star
    data[::17, ::13] = np.nan
    data[1, 1] = np.inf
    finite = data[np.isfinite(data)]
    assert display_limits(data, interval="min-max") == (float(finite.min()), 500.0)
    low, high = display_limits(data, interval="99.5%")
    assert (low, high) == pytest.approx(tuple(np.percentile(finite, [0.25, 99.75])), rel=1e-6)
    assert display_limits(data, interval="zscale") == pytest.approx(
        tuple(ZScaleInterval().get_limits(finite)), rel=1e-6)
    assert 3.0 < low < 6.0 and 14.0 < high < 17.0  # the star does not set the 99.5% limits
    assert display_limits(np.full((4, 4), np.nan), interval="zscale") == (0.0, 1.0)
    assert display_limits(np.full((4, 4), 3.0), interval="min-max") == (3.0, 4.0)
    assert INTERVALS == ("min-max", "zscale", "99.5%")
    with pytest.raises(ValueError, match="unknown limits"):
        display_limits(data, interval="90%")
