"""The ``vidfsr`` command line: one ``main(argv) -> int`` that dispatches to subcommands.

Errors that vidfsr raises on purpose print as one red line and exit 2; ``--debug`` shows the traceback.
Heavy modules are imported inside each command, so ``vidfsr --help`` is instant.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import threading
from collections.abc import Mapping, Sequence
from types import MappingProxyType

from . import __version__
from .errors import ConfigError, VidfsrError, close_match_hint

logger = logging.getLogger("vidfsr")

EXIT_OK = 0
EXIT_ERROR = 2


class _ArgumentParser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, and answers unknown options with a close match."""

    def error(self, message: str) -> None:  # type: ignore[override]
        match = re.search(r"unrecognized arguments: (\S+)", message)
        if match:
            word = match.group(1).split("=")[0]
            command = next((a for a in self.argv if a in self.subcommands), None)
            parser = self.subcommands.get(command, self) if command else self
            message += close_match_hint(word, [s for a in parser._actions for s in a.option_strings])
        raise ConfigError(f"{self.prog}: {message}")

    argv: Sequence[str] = ()  # set by main() so errors can name the subcommand's options
    subcommands: Mapping[str, argparse.ArgumentParser] = MappingProxyType({})


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _setup_logging(verbose: bool, debug: bool) -> None:
    from rich.logging import RichHandler

    level = logging.DEBUG if debug else (logging.INFO if verbose else logging.WARNING)
    handler = RichHandler(console=_console(stderr=True), show_path=debug, rich_tracebacks=debug)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def cmd_info(args: argparse.Namespace) -> int:
    from .info import gather_info, render_info

    render_info(gather_info(model=args.model), _console())
    return EXIT_OK


def _add_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="versions, encoders, devices, weight search paths")
    p.add_argument("--model", metavar="NAME", help="also print parameters and GMAC/face of a registered model")
    p.set_defaults(func=cmd_info)


# ---------------------------------------------------------------------------------------------------- parser


def build_parser() -> _ArgumentParser:
    parser = _ArgumentParser(
        prog="vidfsr",
        description="Face super-resolution for video (FSRNet/FSRGAN).",
        epilog="Examples:\n  vidfsr info\n  vidfsr enhance in.mp4 out.mp4\n  vidfsr eval --model fsrnet_lite_x8",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"vidfsr {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument("-v", "--verbose", action="store_true", help="show info logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_ArgumentParser)
    _add_info(sub)
    from . import commands

    commands.add_all(sub)
    parser.subcommands = sub.choices
    for sp in sub.choices.values():
        # SUPPRESS keeps the top-level value when the flag is given before the command.
        sp.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
        sp.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="show info logs")
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM (systemd, Docker, CI): handled exactly like Ctrl-C, so the output is finalised the same way."""


_stop: threading.Event = threading.Event()


def stop_event() -> threading.Event:
    """Set by Ctrl-C and SIGTERM during this ``main()``: commands hand it to the runs they start, so a run also
    ends through the event it polls, not only through the KeyboardInterrupt (which a library's broad ``except``
    or a finaliser could swallow on its way up)."""
    return _stop


def _on_sigterm(signum: int, frame: object) -> None:
    _stop.set()
    raise Terminated


def _on_sigint(signum: int, frame: object) -> None:
    _stop.set()
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code (130 after Ctrl-C, 143 after SIGTERM)."""
    import signal

    global _stop
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    previous = previous_int = None
    _stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # nohup / `&` asked for Ctrl-C to be ignored
            previous_int = signal.signal(signal.SIGINT, _on_sigint)
    try:
        parser = build_parser()
        parser.argv = argv
        if not argv:
            parser.print_help()
            return EXIT_ERROR
        args = parser.parse_args(argv)
        _setup_logging(args.verbose, args.debug)
        if args.command is None:
            parser.print_help()
            return EXIT_ERROR
        return int(args.func(args))
    except VidfsrError as exc:
        if debug:
            _console(stderr=True).print_exception()
        from rich.text import Text

        _console(stderr=True).print(Text.assemble(("error: ", "bold red"), str(exc)), soft_wrap=True)
        return EXIT_ERROR
    except KeyboardInterrupt as exc:
        _console(stderr=True).print("[red]terminated[/]" if isinstance(exc, Terminated) else "[red]interrupted[/]")
        return 143 if isinstance(exc, Terminated) else 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if previous_int is not None:
            signal.signal(signal.SIGINT, previous_int)


if __name__ == "__main__":
    sys.exit(main())
