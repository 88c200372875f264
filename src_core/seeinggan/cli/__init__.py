"""The ``seeinggan`` command line: one module per subcommand.

Each subcommand module defines ``add_parser(subparsers)`` and ``run(args) -> int``.

Errors: a `seeinggan.errors.SeeingGANError` (an error the user can fix; `CliError` is one) is
printed as one line ``seeinggan CMD: error: MESSAGE`` with exit code 2 (its traceback too with
``--debug``). Anything else is a bug: its full traceback is printed, then one line saying so, exit
code 1. Log records of the ``seeinggan`` logger go to stderr (warnings by default, ``--verbose``
for progress notes, ``--debug`` for everything, ``--log-file FILE`` to keep them).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import traceback

from seeinggan.errors import SeeingGANError, configure_logging

SUBCOMMANDS = ("deblur", "score", "train", "simulate", "evaluate")


class CliError(SeeingGANError):
    """A problem the user can fix; printed as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    """The ``seeinggan`` argument parser, one subcommand per module of `seeinggan.cli`."""
    from seeinggan import __version__

    parser = argparse.ArgumentParser(
        prog="seeinggan",
        description="Deblur seeing-limited galaxy images with SeeingGAN.",
    )
    parser.add_argument("--version", action="version", version=f"seeinggan {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show full tracebacks on errors and debug log lines")
    parser.add_argument("-v", "--verbose", action="store_true", help="show progress notes (log level INFO)")
    parser.add_argument("--log-file", default=None, metavar="FILE",
                        help="also append the log (level DEBUG) to FILE")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"seeinggan.cli.{name}")
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``seeinggan`` with ``argv``; the exit status (2 for a user error, said in one line)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logger = configure_logging(debug=args.debug, verbose=args.verbose)
    file_handler = None
    if args.log_file:
        file_handler = logging.FileHandler(args.log_file, encoding="utf-8")
        file_handler.setLevel(logging.DEBUG)
        file_handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s: %(message)s"))
        logger.addHandler(file_handler)
        logger.setLevel(logging.DEBUG)
        for handler in logger.handlers:  # the terminal keeps its own level
            if handler is not file_handler:
                handler.setLevel(logging.DEBUG if args.debug else logging.INFO if args.verbose
                                 else logging.WARNING)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("seeinggan: interrupted", file=sys.stderr)
        return 130
    except SeeingGANError as error:
        logger.debug("%s failed", args.command, exc_info=True)
        if args.debug:
            traceback.print_exc(file=sys.stderr)
        print(f"seeinggan {args.command}: error: {_one_line(error)}", file=sys.stderr)
        return 2
    except Exception as error:
        logger.debug("%s crashed", args.command, exc_info=True)
        traceback.print_exc(file=sys.stderr)
        print(f"seeinggan {args.command}: unexpected error (a bug; please report it with the "
              f"traceback above): {type(error).__name__}: {_one_line(error)}", file=sys.stderr)
        return 1
    finally:
        if file_handler is not None:
            logger.removeHandler(file_handler)
            file_handler.close()


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 2000 else text[:2000] + "..."


if __name__ == "__main__":
    sys.exit(main())
