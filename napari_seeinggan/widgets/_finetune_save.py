"""Saving the Fine-tune dock's model: the name check, the replace question, the files.

The dock's Save calls `save_trained_model`; after a save `remove_session_checkpoints` removes the
session's checkpoint folder (the trainer stays in memory, so Resume still works).
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

from napari.utils.notifications import show_error

from napari_seeinggan._errors import report_error


def save_trained_model(trainer: Any, name_text: str, *,
                       confirm_replace: Callable[[str], bool]) -> tuple[Path | None, str | None]:
    """Save ``trainer``'s generator as the user model ``name_text``.

    The name is checked by `seeinggan.names.check_name` (the rule the command line and the API
    use: no paths, no reserved or shipped names); a model of the same name is replaced only after
    ``confirm_replace(name)`` says so. Errors are shown as napari notifications.

    Returns
    -------
    path : Path or None
        The saved ``.safetensors`` file, None when nothing was saved.
    message : str or None
        A status line for the dock, None to leave it as it is.
    """
    from seeinggan.errors import ModelNameError, SeeingGANError
    from seeinggan.models.io import model_paths, user_models_dir
    from seeinggan.names import check_name

    try:
        name = check_name(name_text, kind="model", what="model name")
    except ModelNameError as error:
        show_error(f"Fine-tune: {error}")
        return None, None
    folder = user_models_dir()
    target = folder / f"{name}.safetensors"
    overwrite = False
    if any(path.exists() for path in model_paths(target)):
        if not confirm_replace(name):
            return None, f"not saved: a model named {name!r} exists"
        overwrite = True
    try:
        path = Path(trainer.save_model(target, name=name, overwrite=overwrite))
    except SeeingGANError as error:
        show_error(f"Fine-tune: could not save model {name!r}: {error}")
        return None, None
    except Exception as error:  # noqa: BLE001 - a bug: shown with its traceback
        report_error(error, context=f"Fine-tune: could not save model {name!r}")
        return None, None
    return path, f"saved model {name!r}"


def remove_session_checkpoints(folder: Path | None) -> bool:
    """Remove a fine-tuning session's checkpoint folder; True when it was removed.

    Only a folder under the models folder's ``checkpoints``.
    """
    import shutil

    from seeinggan.models.io import user_models_dir

    root = (user_models_dir() / "checkpoints").resolve()
    if folder is None or not Path(folder).is_dir():
        return False
    if root not in Path(folder).resolve().parents:
        return False
    shutil.rmtree(folder, ignore_errors=True)
    return True


def ask_replace(parent: Any, name: str) -> bool:
    """Ask (a Qt question box, "No" by default) whether to replace the user model `name`."""
    from qtpy.QtWidgets import QMessageBox

    box = QMessageBox(QMessageBox.Icon.Question, "Replace model?",
                      f"A model named {name!r} exists in your models folder. Replace it?",
                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                      parent)
    box.setDefaultButton(QMessageBox.StandardButton.No)
    box.setObjectName("seeinggan-replace-model")
    return box.exec() == QMessageBox.StandardButton.Yes
