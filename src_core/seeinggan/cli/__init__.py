"""The ``seeinggan`` command line: one module per subcommand.

Each subcommand module defines ``add_parser(subparsers)`` and ``run(args) -> int``. Errors the
user can fix are raised as `CliError` and printed as one line (a traceback only with ``--debug``).
"""

from __future__ import annotations

import argparse
import importlib
import sys

SUBCOMMANDS = ("deblur", "score", "train", "simulate", "evaluate")


class CliError(Exception):
    """A problem the user can fix; printed as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    from seeinggan import __version__

    parser = argparse.ArgumentParser(
        prog="seeinggan",
        description="Deblur seeing-limited galaxy images with SeeingGAN.",
    )
    parser.add_argument("--version", action="version", version=f"seeinggan {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"seeinggan.cli.{name}")
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("seeinggan: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - one clear line unless --debug
        if args.debug:
            raise
        kind = "" if isinstance(error, (CliError, OSError, ValueError)) else f"{type(error).__name__}: "
        print(f"seeinggan {args.command}: error: {kind}{error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
