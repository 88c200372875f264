"""Build hook: ship the root ``napari.yaml`` (the plugin's one manifest) inside ``napari_seeinggan``.

The manifest lives at the repository root (the design card's place for it). napari finds it through
the entry point ``napari_seeinggan:napari.yaml``, so the build copies it into the package: into the
wheel for normal installs, and into the source package for editable installs (``make install``),
where ``napari_seeinggan/napari.yaml`` is then a generated, git-ignored copy. No link is committed,
so Windows checkouts work. Everything else is in ``pyproject.toml``.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

MANIFEST = "napari.yaml"
ROOT = Path(__file__).resolve().parent


class BuildPyWithManifest(build_py):
    """`build_py` that also places the root manifest at ``napari_seeinggan/napari.yaml``."""

    def _manifest_target(self) -> Path:
        # An editable install imports the source package, so the copy goes there.
        base = ROOT if getattr(self, "editable_mode", False) else Path(self.build_lib)
        return base / "napari_seeinggan" / MANIFEST

    def run(self) -> None:
        """Build the packages, then copy the manifest into ``napari_seeinggan``."""
        super().run()
        target = self._manifest_target()
        target.parent.mkdir(parents=True, exist_ok=True)
        self.copy_file(str(ROOT / MANIFEST), str(target))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        """The built files, the manifest's copy included."""
        return [*super().get_outputs(include_bytecode), str(self._manifest_target())]


setup(cmdclass={"build_py": BuildPyWithManifest})
