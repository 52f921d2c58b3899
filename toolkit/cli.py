"""Command line: ``python -m toolkit <command> [options]``.

Each command is a module with ``add_arguments(parser)`` and ``run(args) -> int | None`` (and
optionally a one-line ``HELP``); its docstring is the command's description. To add a command,
add a row to ``COMMANDS``.
A command whose module is not there (an optional part not installed) is left out.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from types import ModuleType
from typing import Sequence

# name -> (module, help shown when the module defines no HELP string)
COMMANDS: dict[str, tuple[str, str]] = {
    "report": ("toolkit.bench.cli", "run a benchmark sweep and write an HTML report"),
    "datasets": ("toolkit.datasets.cli", "list the registered datasets"),
    "serve": ("toolkit.server.cli", "run the REST server"),
    "notebooks": ("toolkit.notebooks", "execute the notebooks and render them to HTML"),
    "verify": ("toolkit.storage.integrity", "CRC-check every slab file of a database folder"),
}


def _load(module_name: str) -> ModuleType | None:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Only a missing command module (or its package) hides the command; a missing
        # dependency *inside* it is a real error and is raised.
        if exc.name and module_name.startswith(exc.name):
            logging.getLogger(__name__).debug("command module %s is not available: %s", module_name, exc)
            return None
        raise


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with one subcommand per available command module."""
    parser = argparse.ArgumentParser(
        prog="python -m toolkit",
        description="A local, Pinecone-like serverless vector database for research: benchmarks, datasets, server.",
        epilog="Run `python -m toolkit report` for the default engine comparison (writes reports/<timestamp>/).",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="command")
    for name, (module_name, default_help) in COMMANDS.items():
        module = _load(module_name)
        if module is None:
            continue
        summary = getattr(module, "HELP", None) or default_help
        command = sub.add_parser(name, help=summary, description=(module.__doc__ or summary).strip(),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(command)
        command.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * args.verbose
    logging.basicConfig(level=max(level, logging.DEBUG), format="%(levelname)s %(name)s: %(message)s")
    if args.command is None:
        parser.print_help()
        return 0
    code = args._run(args)
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
