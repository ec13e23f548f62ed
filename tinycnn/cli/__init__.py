"""The `tinycnn` command line: infer, verify, summary, bench and profile.

    tinycnn infer [MODEL] IMAGE... [--top K] [--json] [--preset imagenet|caffe|none] ...
    tinycnn verify MODEL [--input IMAGE|FILE.npy] [--atol A] [--rtol R] [--all-layers]
    tinycnn summary MODEL [--input-shape ...] [--plot FILE.png]
    tinycnn bench MODEL [--threads N] [--batch N] [--seconds S] [--vs onnxruntime]
    tinycnn profile MODEL [--threads N]

Exit codes: 0 success; 1 `verify` found a mismatch; 2 an error (bad arguments, a missing or
unreadable file, a corrupt image, a file that is not ONNX, a model tinycnn cannot run, a missing
optional dependency); 130 interrupted.  Errors are one line on stderr, `tinycnn: error: ...`;
`--debug` (before or after the command) shows the traceback instead.

One module per command (it adds its subparser and runs it), over shared ones: `args` (argument
types, CLIError, exit codes), `models` (loading through the library, input shapes, sessions),
`images` (the command line's side of tinycnn.images), `tables` (number and table formats).
The commands compute nothing about a model themselves: shapes, parameters, MACs, receptive
fields and memory come from `tinycnn.analysis`, images from `tinycnn.images`, probabilities and
labels from `tinycnn.classify`.
"""
from .app import build_parser, main

__all__ = ["build_parser", "main"]
