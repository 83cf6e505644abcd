"""The ``weakseg`` command. Each subcommand lives in its own module of this package.

A subcommand module defines ``register(subparsers)``, which adds its parser and sets
``func`` to a callable taking the parsed arguments and returning an exit code. Modules
are discovered, so adding a command never touches this file.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import pkgutil
import sys

from weakseg import __version__
from weakseg.errors import (EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED, WeakSegError, from_os_error,
                            is_environment_error)


class _OneLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"weakseg: {record.levelname.lower()}: {record.getMessage()}"


def command_modules() -> dict[str, str]:
    """Command name -> module name: ``export_rtstruct`` serves ``weakseg export-rtstruct``."""
    return {info.name.replace("_", "-"): info.name for info in pkgutil.iter_modules(__path__)
            if not info.name.startswith("_")}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; with a known ``command``, only that subcommand's module is imported.

    Importing every subcommand (phantoms, training, DICOM export) costs a few tenths of a second
    that ``weakseg segment`` would pay on every case; ``--help`` and unknown commands still list all.
    """
    parser = argparse.ArgumentParser(
        prog="weakseg",
        description="Brain tumour and organ-at-risk segmentation from weak labels.",
    )
    parser.add_argument("--version", action="version", version=f"weakseg {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="only print errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = command_modules()
    names = [modules[command]] if command in modules else sorted(modules.values())
    for name in names:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def _command_in(argv: list[str]) -> str | None:
    """The first argument that is not a top-level option: the subcommand, if any."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_command_in(argv))
    args = parser.parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLineFormatter())
    logger = logging.getLogger("weakseg")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.ERROR if args.quiet else logging.INFO)
    logger.propagate = False
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    with _terminate_cleanly():
        return run_command(args)


@contextlib.contextmanager
def _terminate_cleanly():
    """SIGTERM unwinds like Ctrl-C: staging folders and half-made runs are removed before the exit."""
    import signal
    import threading

    def interrupt(signum, frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGTERM"):
        yield
        return
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_command(args: argparse.Namespace) -> int:
    """Run a parsed command under the error taxonomy: bad input 2, internal 3, interrupted 130.

    Every user-facing failure is one line on stderr naming the path; a traceback only with
    ``WEAKSEG_DEBUG=1``.
    """
    try:
        return int(args.func(args) or 0)
    except WeakSegError as exc:
        print(f"weakseg: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:
        if os.environ.get("WEAKSEG_DEBUG"):
            raise
        if not is_environment_error(exc):
            return _internal(exc)
        print(f"weakseg: error: {from_os_error(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except SystemExit as exc:  # a helper's "raise SystemExit('weakseg: error: ...')" is bad input too
        if isinstance(exc.code, str):
            text = exc.code if exc.code.startswith("weakseg:") else f"weakseg: error: {exc.code}"
            print(text, file=sys.stderr)
            return EXIT_BAD_INPUT
        raise
    except KeyboardInterrupt:
        print("weakseg: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug, not bad input: one line unless debugging
        if os.environ.get("WEAKSEG_DEBUG"):
            raise
        return _internal(exc)


def _internal(exc: BaseException) -> int:
    text = " ".join(str(exc).split())
    print(f"weakseg: internal error: {type(exc).__name__}: {text} (set WEAKSEG_DEBUG=1 for a traceback)", file=sys.stderr)
    return EXIT_INTERNAL

if __name__ == "__main__":
    sys.exit(main())
