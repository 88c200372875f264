"""A cluster node's install: the core imports and deblurs in a real venv without napari or Qt.

Installing torch and astropy into a fresh venv from the registry takes minutes, so the venv gets
exactly the distributions the project declares (``[project].dependencies`` of pyproject.toml, less
the plugin's GUI glue, and everything they require, resolved through their metadata) by linking
them from the test's own environment. A dependency missing from pyproject.toml, or one that drags
in napari or a Qt binding, fails the test.
"""

import os
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
GUI_GLUE = {"magicgui", "qtpy", "pyqtgraph"}
FORBIDDEN = {"napari", "pyqt5", "pyqt6", "pyside2", "pyside6", "vispy", "napari-plugin-engine", "npe2"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(requirements: list[str]) -> dict[str, metadata.Distribution]:
    env = default_environment()
    found: dict[str, metadata.Distribution] = {}
    todo = [(Requirement(r), "") for r in requirements]
    while todo:
        requirement, extra = todo.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({**env, "extra": extra}):
            continue
        name = _norm(requirement.name)
        if name in found:
            continue
        try:
            dist = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            pytest.fail(f"{requirement.name} (required by the core) is not installed here")
        found[name] = dist
        for extra_name in requirement.extras or {""}:
            todo.extend((Requirement(r), extra_name) for r in (dist.requires or []))
    return found


def _top_level_paths(dist: metadata.Distribution) -> set[Path]:
    base = Path(dist.locate_file(""))
    names = set()
    for file in dist.files or []:
        parts = Path(file).parts
        if not parts or parts[0] in ("..", "__pycache__") or parts[0].endswith(".data"):
            continue
        names.add(parts[0])
    return {base / n for n in names if (base / n).exists()}


def test_the_core_runs_in_a_venv_without_napari_or_qt(tmp_path):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"]
    everything = _closure(declared)
    # the default install (glue included) pulls neither napari nor a Qt binding
    assert not FORBIDDEN & set(everything), sorted(FORBIDDEN & set(everything))
    core = _closure([r for r in declared if _norm(Requirement(r).name) not in GUI_GLUE])
    assert not ({"qtpy", "magicgui", "pyqtgraph", "superqt"} & set(core))

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = next((venv / "lib").glob("python3*/site-packages"))
    linked = tmp_path / "linked"
    linked.mkdir()
    for dist in core.values():
        for path in _top_level_paths(dist):
            target = linked / path.name
            if not target.exists():
                target.symlink_to(path)
    (site / "core-deps.pth").write_text(f"{linked}\n{ROOT / 'src_core'}\n")

    script = r"""
import importlib.util, sys
blocked = ["napari", "qtpy", "PyQt6", "PyQt5", "PySide6", "magicgui", "pyqtgraph", "vispy", "superqt"]
present = [m for m in blocked if importlib.util.find_spec(m) is not None]
assert not present, f"present in the lean venv: {present}"
import numpy as np, torch
from astropy.coordinates import SkyCoord
from seeinggan import geometry
from seeinggan.cli import main
from seeinggan.io.fits import read_image, write_image
from seeinggan.models import UNetGenerator
from seeinggan.models.io import save_model
torch.manual_seed(0)
model = save_model(sys.argv[1] + "/tiny", UNetGenerator(base_channels=4, n_down=2, n_res=1), metadata={})
data = np.random.default_rng(0).normal(5.0, 1.0, (24, 20)).astype(np.float32)
wcs = geometry.make_tan_wcs(center=SkyCoord(150, 2, unit="deg"), pixel_scale=0.202, shape=data.shape)
source = write_image(sys.argv[1] + "/in.fits", data, wcs=wcs)
assert main(["deblur", str(source), "-o", sys.argv[1] + "/out", "--model", str(model), "--device", "cpu",
             "--tile", "64", "--overlap", "16"]) == 0
out = read_image(sys.argv[1] + "/out/in_deblurred.fits")
assert out.data.shape == (162, 135), out.data.shape
assert not [m for m in blocked if m in sys.modules], [m for m in blocked if m in sys.modules]
print("LEAN OK", sys.prefix)
"""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    result = subprocess.run([str(venv / "bin" / "python"), "-c", script, str(tmp_path)], capture_output=True,
                            text=True, timeout=300, cwd=tmp_path, check=False, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"LEAN OK {venv}" in result.stdout
