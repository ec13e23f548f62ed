"""Where `tinycnn infer` sends its results: stdout (text or JSON lines), a JSON-lines file or a
Parquet file (--output, by extension), and every model output to an .npz (--save-outputs).

The writers open their file when made, so that a path that cannot be written fails before any
work, and take the results of tinycnn.pipeline batch by batch.
"""
import json
import sys
from typing import Dict, List, Optional

import numpy as np

from ..pipeline import flat_result
from .args import CLIError, npz_name, open_for_writing

JSON_EXTENSIONS = (".jsonl", ".json", ".ndjson")
PARQUET_EXTENSIONS = (".parquet", ".pq")
IMAGES_KEY = "__images__"  # the .npz key of the pictures' names, in the order of the rows
PARQUET_ROWS_PER_GROUP = 4096  # results are written in row groups of this many


def format_text(entry: dict) -> str:
    """One picture's result for people: its path, then one line per class or per output."""
    lines = [str(entry["image"])]
    for t in entry.get("top", ()):
        label = t["label"]
        tail = label if label == str(t["index"]) else f"{label} ({t['index']})"
        lines.append(f"  {100.0 * t['probability']:6.2f}%  {tail}")
    for name, s in entry.get("outputs", {}).items():
        shape = "x".join(str(d) for d in s["shape"]) or "scalar"
        numbers = "  ".join(f"{k} {_g(s[k])}" for k in ("min", "max", "mean", "std"))
        extra = f"  ({s['nonfinite']} NaN/Inf)" if s.get("nonfinite") else ""
        lines.append(f"  {name}  {shape}  {numbers}{extra}")
    return "\n".join(lines)


def _g(x) -> str:
    return "-" if x is None else f"{x:.6g}"


class StdoutWriter:
    """Text or JSON lines on stdout; errors of text output go to stderr, one line each."""

    def __init__(self, as_json: bool, progress=None):
        self.as_json, self.progress = as_json, progress

    def write(self, results: List[dict]):
        for r in results:
            if "error" in r and not self.as_json:
                self._emit(f"tinycnn: error: {r['error']}", sys.stderr)
            else:
                self._emit(json.dumps(r) if self.as_json else format_text(r), sys.stdout)

    def _emit(self, text: str, stream):
        if self.progress is not None:
            self.progress.write(text, file=stream)  # keeps the bar on stderr intact
        else:
            print(text, file=stream, flush=True)

    def close(self):
        pass


class JsonLinesWriter:
    """One JSON object per picture per line, as `--json` prints them."""

    def __init__(self, path: str):
        self.path, self.file = path, open_for_writing(path, "w")

    def write(self, results: List[dict]):
        self.file.writelines(json.dumps(r) + "\n" for r in results)

    def close(self):
        self.file.close()


def _require_pyarrow(path):
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise CLIError(f"--output {path}: Parquet needs pyarrow: pip install pyarrow "
                       "(or write JSON lines: --output FILE.jsonl)") from None
    return pyarrow


def parquet_schema(task: str, output_names: List[str]):
    """Columns of a Parquet result file.  classify: image, error, top_index, top_label,
    top_probability (the best class) and top_k (a list of {index, label, probability});
    raw: image, error and outputs (a struct per output of shape, min, max, mean, std, nonfinite)."""
    import pyarrow as pa

    base = [("image", pa.string()), ("error", pa.string())]
    if task == "classify":
        entry = pa.struct([("index", pa.int64()), ("label", pa.string()), ("probability", pa.float64())])
        return pa.schema(base + [("top_index", pa.int64()), ("top_label", pa.string()),
                                 ("top_probability", pa.float64()), ("top_k", pa.list_(entry))])
    stats = pa.struct([("shape", pa.list_(pa.int64())), ("min", pa.float64()), ("max", pa.float64()),
                       ("mean", pa.float64()), ("std", pa.float64()), ("nonfinite", pa.int64())])
    return pa.schema(base + [("outputs", pa.struct([(name, stats) for name in output_names]))])


class ParquetWriter:
    """Results as Parquet (pyarrow), written in row groups of PARQUET_ROWS_PER_GROUP."""

    def __init__(self, path: str, task: str, output_names: List[str]):
        _require_pyarrow(path)
        import pyarrow.parquet as pq

        self.schema = parquet_schema(task, output_names)
        self.path, self.rows = path, []
        sink = open_for_writing(path, "wb")
        self.writer = pq.ParquetWriter(sink, self.schema)
        self.sink = sink

    def write(self, results: List[dict]):
        self.rows.extend(flat_result(r) for r in results)
        if len(self.rows) >= PARQUET_ROWS_PER_GROUP:
            self._flush()

    def _flush(self):
        import pyarrow as pa

        if self.rows:
            self.writer.write_table(pa.Table.from_pylist(self.rows, schema=self.schema))
            self.rows = []

    def close(self):
        try:
            self._flush()
            self.writer.close()
        finally:
            self.sink.close()


def open_output(path: Optional[str], task: str, output_names: List[str]):
    """The writer for --output PATH, by its extension."""
    low = path.lower()
    if low.endswith(JSON_EXTENSIONS):
        return JsonLinesWriter(path)
    if low.endswith(PARQUET_EXTENSIONS):
        return ParquetWriter(path, task, output_names)
    raise CLIError(f"--output {path}: unknown extension; use .jsonl (JSON lines) or .parquet")


class OutputsSaver:
    """--save-outputs FILE.npz: every model output of every picture that ran, stacked in the
    order of the pictures ([pictures, ...] under the output's name), and their names under
    `__images__`.  Held in memory until the end (np.savez writes whole arrays)."""

    def __init__(self, path: str):
        self.path, self.file = path, open_for_writing(npz_name(path, "--save-outputs"), "wb")
        self.names: List[str] = []
        self.outputs: Dict[str, List[np.ndarray]] = {}

    def add(self, names: List[str], outputs: Dict[str, np.ndarray]):
        self.names.extend(names)
        for k, v in outputs.items():
            self.outputs.setdefault(k, []).append(v)

    def close(self):
        arrays = {k: np.concatenate(v) for k, v in self.outputs.items()}
        arrays[IMAGES_KEY] = np.array(self.names, dtype=str)
        try:
            np.savez(self.file, **arrays)
        finally:
            self.file.close()

