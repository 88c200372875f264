"""The error path: SeeingGANError family, one line for user errors, tracebacks for bugs."""

import logging

from seeinggan import errors
from seeinggan.cli import CliError, main
from seeinggan.io.fits import FitsReadError, FitsWriteError
from seeinggan.models.io import ModelFileError
from seeinggan.train import CheckpointError, ConfigError


def test_user_errors_share_the_base_and_keep_builtin_bases():
    for cls in (FitsReadError, ModelFileError, CheckpointError, ConfigError, CliError,
                errors.NoSpaceError, errors.ModelNameError, errors.InputError):
        assert issubclass(cls, errors.SeeingGANError)
    assert issubclass(FitsReadError, ValueError)
    assert issubclass(FitsWriteError, OSError)
    assert issubclass(errors.NoSpaceError, OSError)
    assert issubclass(errors.ResourceLimitError, MemoryError)
    assert errors.is_user_error(errors.NoSpaceError("x")) and not errors.is_user_error(KeyError("x"))


def test_cli_prints_one_line_for_a_user_error(tmp_path, capsys):
    code = main(["deblur", str(tmp_path / "missing.fits"), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines() == [f"seeinggan deblur: error: {tmp_path / 'missing.fits'}: file not found"]


def test_cli_prints_the_traceback_of_a_bug(tmp_path, capsys, monkeypatch):
    from seeinggan.cli import deblur

    def broken(args):
        return {}["no such key"]

    monkeypatch.setattr(deblur, "run", broken)
    code = main(["deblur", "x.fits", "-o", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback (most recent call last)" in err and "KeyError" in err
    assert "in broken" in err
    assert err.strip().splitlines()[-1].startswith("seeinggan deblur: unexpected error")


def test_cli_debug_shows_the_traceback_of_a_user_error_and_logs_to_a_file(tmp_path, capsys):
    log = tmp_path / "run.log"
    code = main(["--debug", "--log-file", str(log), "deblur", str(tmp_path / "missing.fits"),
                 "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback (most recent call last)" in err and "CliError" in err
    assert "deblur failed" in log.read_text() and "CliError" in log.read_text()
    logging.getLogger("seeinggan").setLevel(logging.WARNING)
