"""The `tinycnn` parser, built from the commands' own subparsers, and `main`."""
import argparse
import os
import sys
from typing import Optional, Sequence

from . import bench, infer, profile, quantize, summary, verify
from .args import EPILOG, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, CLIError, Parser, first_line

COMMANDS = (infer, verify, summary, bench, profile, quantize)  # in the order --help lists them


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    common = Parser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the Python traceback on errors")
    parser = Parser(prog="tinycnn", description="Run and inspect convolutional networks stored as ONNX, on the CPU.",
                    epilog=EPILOG, parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"tinycnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for command in COMMANDS:
        command.register(sub, [common])
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the `tinycnn` command; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "command", None):
            parser.print_help(sys.stderr)
            return EXIT_ERROR
        return args.func(args)
    except CLIError as e:
        if debug:
            raise
        print(f"tinycnn: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("tinycnn: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `tinycnn infer ... | head`
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return EXIT_OK
    except MemoryError:
        if debug:
            raise
        print("tinycnn: error: out of memory", file=sys.stderr)
        return EXIT_ERROR
    except Exception as e:  # a bug or an engine failure we did not foresee: still one line
        if debug:
            raise
        print(f"tinycnn: error: {type(e).__name__}: {first_line(e)} (run with --debug for the traceback)",
              file=sys.stderr)
        return EXIT_ERROR
