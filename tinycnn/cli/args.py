"""Argument parsing and errors shared by the commands: one-line errors with an exit code."""
import argparse
import math

EXIT_OK, EXIT_MISMATCH, EXIT_ERROR, EXIT_SOME_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

EPILOG = """exit codes: 0 success; 1 verify found a mismatch; 2 error (bad arguments, missing
file, not an ONNX model, model tinycnn cannot run, missing optional dependency); 3 infer could
not read some images (the others' results are complete); 130 interrupted."""


class CLIError(Exception):
    """An error to print as one line; `exit_code` goes to the shell."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR):
        super().__init__(message)
        self.exit_code = exit_code


def first_line(e: BaseException) -> str:
    """An exception's message as one line (a multi-line message is joined with '; ')."""
    lines = [line.strip() for line in str(e).strip().splitlines() if line.strip()]
    if not lines:
        return type(e).__name__
    return " ".join(a + (";" if not a.endswith(":") and b else "")
                    for a, b in zip(lines, lines[1:] + [""])).strip()


class Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line: `tinycnn: error: ...`."""

    def error(self, message):
        raise CLIError(f"{message} (see '{self.prog} --help')")


def open_for_writing(path: str, mode: str = "w"):
    """open(path, mode), or a CLIError naming the file: made before any work, so that a path
    that cannot be written fails first."""
    try:
        return open(path, mode)
    except OSError as e:
        raise CLIError(f"{path}: cannot write ({e.strerror or first_line(e)})") from None


def npz_name(path: str, option: str) -> str:
    if not path.lower().endswith(".npz"):
        raise CLIError(f"{option} {path}: the file name must end in .npz")
    return path


def positive_int(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


def _float_arg(text, ok, what):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not ok(v):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return v


def positive_float(text):
    return _float_arg(text, lambda v: v > 0, "a positive number")


def nonneg_float(text):
    return _float_arg(text, lambda v: v >= 0 and math.isfinite(v), "a non-negative number")


def add_input_shape(p, help=None):
    p.add_argument("--input-shape", action="append", metavar="[NAME=]1,3,224,224", help=help)
