"""Command line: ``densescope <command>`` (or ``python -m core <command>``), the app's experiments headless.

Every subcommand has ``--help``. Errors a user can fix exit with status 2 and
one line on stderr (no traceback); progress bars go to stderr, results to stdout.
"""

from __future__ import annotations

import argparse
import os
import sys

from core import config
from core.cli.common import COMMANDS, UserError


# -- entry point -----------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    _load_plugins()
    parser = argparse.ArgumentParser(
        prog="densescope",
        description="densescope from the command line (also `python -m core`): datasets, encoding, experiments, runs.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_handler, add_args, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        add_args(p)
    return parser


#: Modules that register experiment subcommands with `command` (each owned by its engine).
PLUGINS = ("core.cli.data", "core.cli.runs", "core.cli.sweep", "core.cli.intrinsic", "core.cli.order", "core.cli.map",
           "core.cli.compare", "core.cli.export", "core.cli.relevance_filter", "core.cli.serve")


def _load_plugins() -> None:
    """Experiment commands live beside their engines (sweep, id, order, map, ray)."""

    import importlib

    for mod in PLUGINS:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise


def stop_on_sigterm() -> None:
    """Handle SIGTERM like Ctrl-C: the running command stops at once, its run is saved as interrupted."""
    import signal
    import threading

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)


def _report_recomputed() -> None:
    """Say which cached files were found corrupt and recomputed while the command ran (every command)."""
    from core.store.artifacts import take_process_notices

    for notice in take_process_notices():
        print(f"note: {notice}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    config.offline_hub()
    stop_on_sigterm()
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = COMMANDS[args.command][0]
    try:
        code = handler(args)
        _report_recomputed()
        sys.stdout.flush()  # here, so a reader that stopped early (`| head`) is handled below
        return code
    except BrokenPipeError:
        # the reader of our output went away (`densescope runs show 3 --manifest | head`): stop quietly,
        # and keep Python from complaining while it flushes stdout at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except (UserError, ValueError, FileNotFoundError, KeyError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
