"""The distribution: one wheel holding both packages, the manifest, and the shipped model."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_core_imports_neither_qt_nor_napari():
    code = (
        "import sys, seeinggan, seeinggan.cli, seeinggan.infer, seeinggan.metrics, "
        "seeinggan.train, seeinggan.simulate, seeinggan.data, seeinggan.io.fits, seeinggan.geometry\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'napari', 'qtpy', 'PyQt6', 'PyQt5', 'PySide6', 'magicgui', 'vispy'})\n"
        "print(','.join(bad))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"the core imported GUI modules: {result.stdout}"


def test_manifest_validates():
    from npe2 import PluginManifest

    manifest = PluginManifest.from_distribution("napari-seeinggan")
    assert manifest.name == "napari-seeinggan"
    commands = {c.id for c in manifest.contributions.commands}
    for reader in manifest.contributions.readers:
        assert reader.command in commands
    # every python_name resolves to a real callable
    for command in manifest.contributions.commands:
        assert callable(_resolve(command.python_name)), command.python_name


def test_manifest_reader_claims_the_core_fits_names():
    # One list of FITS names (seeinggan.io.fits.FITS_SUFFIXES); the static manifest must match it.
    import yaml
    from seeinggan.io.fits import FITS_SUFFIXES

    from napari_seeinggan.__main__ import FITS_PATTERNS

    manifest = yaml.safe_load((ROOT / "napari.yaml").read_text())
    (reader,) = manifest["contributions"]["readers"]
    assert reader["filename_patterns"] == list(FITS_PATTERNS) == [f"*{s}" for s in FITS_SUFFIXES]


def test_one_manifest_at_the_root_and_no_links():
    # The design card puts napari.yaml at the root; setup.py's build hook ships it in the package.
    # A symbolic link becomes a text file holding the target's path on Windows checkouts.
    manifest = ROOT / "napari.yaml"
    assert manifest.is_file() and not manifest.is_symlink()
    tracked = subprocess.run(["git", "ls-files", "napari_seeinggan/napari.yaml"], cwd=ROOT, capture_output=True,
                             text=True, check=False).stdout.strip()
    assert tracked == ""  # the package's copy is made by the build (setup.py), never committed
    copy = ROOT / "napari_seeinggan" / "napari.yaml"
    if copy.exists():  # an editable install's copy: the same manifest
        assert copy.read_text() == manifest.read_text()
    links = [p for folder in ("napari_seeinggan", "src_core") for p in (ROOT / folder).rglob("*") if p.is_symlink()]
    assert links == []


def _resolve(python_name: str):
    import importlib

    module, attr = python_name.split(":")
    return getattr(importlib.import_module(module), attr)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (path,) = out.glob("napari_seeinggan-*.whl")
    return path


def test_wheel_holds_manifest_packages_and_shipped_model(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "napari_seeinggan/napari.yaml" in names
    manifest = zipfile.ZipFile(wheel).read("napari_seeinggan/napari.yaml").decode()
    assert manifest == (ROOT / "napari.yaml").read_text()
    assert "napari_seeinggan/py.typed" in names and "seeinggan/py.typed" in names
    for module in ("seeinggan/__init__.py", "seeinggan/cli/__init__.py", "napari_seeinggan/_reader.py"):
        assert module in names
    assert "seeinggan/weights/default.safetensors" in names
    assert "seeinggan/weights/default.json" in names
    size = zipfile.ZipFile(wheel).getinfo("seeinggan/weights/default.safetensors").file_size
    assert size <= 30 * 1024 * 1024
    assert "seeinggan/weights/adversarial.json" in names  # the second shipped model (issue 11)
    assert zipfile.ZipFile(wheel).getinfo("seeinggan/weights/adversarial.safetensors").file_size <= 30 * 1024 * 1024
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "napari-seeinggan = napari_seeinggan:napari.yaml" in text
    assert "seeinggan = seeinggan.cli:main" in text
