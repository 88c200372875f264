"""The plugin uses only the core's public names, so the core can change its insides freely.

A public name is one a core module exports: listed in its ``__all__`` when it has one, else any
name without a leading underscore; modules and packages on the way must be public too. The check
reads the plugin's source (imports, and attributes taken from imported core modules), so it sees
imports inside functions as well.
"""

import ast
import importlib
import importlib.util
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "napari_seeinggan"


def _public_module(dotted: str) -> bool:
    return not any(part.startswith("_") for part in dotted.split("."))


def _exported(module: types.ModuleType, name: str) -> bool:
    exported = getattr(module, "__all__", None)
    if exported is not None and name in exported:
        return True  # listed, dunder names such as __version__ included
    if name.startswith("_"):
        return False
    if hasattr(module, "__path__") and importlib.util.find_spec(f"{module.__name__}.{name}") is not None:
        return True  # a public submodule
    return exported is None


def core_names_used(source: str) -> list[tuple[int, str, str]]:
    """``(line, module, name)`` of every core name ``source`` takes (name "" for a bare import)."""
    tree = ast.parse(source)
    used: list[tuple[int, str, str]] = []
    aliases: dict[str, str] = {}  # local name -> core module it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] != "seeinggan":
                continue
            for alias in node.names:
                used.append((node.lineno, node.module, alias.name))
                target = f"{node.module}.{alias.name}"
                aliases[alias.asname or alias.name] = target
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "seeinggan":
                    used.append((node.lineno, alias.name, ""))
                    if alias.asname:
                        aliases[alias.asname] = alias.name
                    else:
                        aliases["seeinggan"] = "seeinggan"
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        chain = []
        value: ast.expr = node
        while isinstance(value, ast.Attribute):
            chain.append(value.attr)
            value = value.value
        if not isinstance(value, ast.Name) or value.id not in aliases:
            continue
        # The outermost attribute only; inner ones are walked as their own nodes.
        *inner, last = reversed(chain)
        module = ".".join([aliases[value.id], *inner])
        used.append((node.lineno, module, last))
    return used


def _check(module_name: str, name: str) -> str | None:
    if not _public_module(module_name):
        return f"private module {module_name}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        return None  # an attribute chain through an object, not a module (checked at its root)
    if name and not _exported(module, name):
        return f"{module_name}.{name} is not exported"
    return None


def test_the_checker_catches_private_names():
    source = (
        "from seeinggan.geometry import _tan_offsets_arcsec\n"
        "from seeinggan.io import fits\n"
        "import seeinggan.infer.deblurrer as deblurrer\n"
        "def f():\n"
        "    from seeinggan.metrics._inputs import prepare\n"
        "    return fits._convert_int, deblurrer.Deblurrer, fits.read_images\n"
    )
    problems = [p for line, module, name in core_names_used(source) if (p := _check(module, name))]
    assert problems == [
        "seeinggan.geometry._tan_offsets_arcsec is not exported",
        "private module seeinggan.metrics._inputs",
        "seeinggan.io.fits._convert_int is not exported",
    ]


def test_the_plugin_imports_only_public_core_names():
    problems = []
    files = sorted(PLUGIN.rglob("*.py"))
    assert len(files) >= 10
    for path in files:
        for line, module, name in core_names_used(path.read_text()):
            problem = _check(module, name)
            if problem:
                problems.append(f"{path.relative_to(ROOT)}:{line}: {problem}")
    assert problems == []
