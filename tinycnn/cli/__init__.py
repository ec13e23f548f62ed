"""The `tinycnn` command line: infer, verify, summary, bench, profile and quantize.

    tinycnn infer [MODEL] IMAGE... [--top K] [--json] [--output FILE.jsonl|.parquet]
                  [--task auto|classify|raw] [--save-outputs FILE.npz] [--polarity ...]
                  [--ray [ADDRESS] [--workers N] [--threads-per-worker T]] ...
    tinycnn verify MODEL [--input IMAGE|FILE.npy|FILE.npz] [--atol A] [--rtol R]
                   [--all-layers | --first-divergence] [--save-outputs F.npz | --load-outputs F.npz]
    tinycnn summary MODEL [--input-shape ...] [--plot FILE.png]
    tinycnn bench MODEL [--threads N] [--batch N] [--seconds S] [--vs onnxruntime]
    tinycnn profile MODEL [--threads N]
    tinycnn quantize MODEL.onnx IMAGE|FOLDER... -o OUT.onnx [--method minmax|percentile]

Exit codes: 0 success; 1 `verify` found a mismatch; 2 an error (bad arguments, a missing file, a
file that is not ONNX, a model tinycnn cannot run, a missing optional dependency); 3 `infer` could
not read some images (each has its error; the other images' results are complete); 130
interrupted.  Errors are one line on stderr, `tinycnn: error: ...`; `--debug` (before or after
the command) shows the traceback instead.

One module per command (it adds its subparser and runs it), over shared ones: `args` (argument
types, CLIError, exit codes), `models` (loading through the library, input shapes, sessions),
`images` (the command line's side of tinycnn.images), `results` (where infer's results go),
`cluster` (infer --ray: connecting to Ray, the batches run there by tinycnn.ray),
`tables` (number and table formats).
The commands compute nothing about a model themselves: shapes, parameters, MACs, receptive
fields and memory come from `tinycnn.analysis`, images from `tinycnn.images`, probabilities and
labels from `tinycnn.classify`, the per-image loop of `infer` from `tinycnn.pipeline`.
"""
from .app import build_parser, main

__all__ = ["build_parser", "main"]
