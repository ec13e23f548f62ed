"""`tinycnn summary MODEL`: the per-layer table of tinycnn.analysis, its totals, a plot."""
import json
import os

from . import models, tables
from .args import EPILOG, EXIT_OK, CLIError, add_input_shape, first_line


def register(sub, parents):
    p = sub.add_parser("summary", parents=parents, help="layers, shapes, parameters, MACs",
                       description="Per-layer table of the model as tinycnn plans it: window (kernel, "
                                   "stride, pads, dilation, group), output shape, parameters, MACs and "
                                   "their share, receptive field and jump in input pixels; then totals.",
                       epilog=EPILOG)
    p.add_argument("model", metavar="MODEL")
    add_input_shape(p, "input shape (default: batch 1, symbolic spatial dims 224)")
    p.add_argument("--plot", metavar="FILE.png", help="draw feature-map size and depth (needs matplotlib)")
    p.add_argument("--all", action="store_true", help="also list shape-arithmetic nodes")
    p.add_argument("--json", action="store_true", help="the table and totals as one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    model = models.load(args.model)
    shapes = models.input_shapes(model, 1, args.input_shape or ())
    analysis = models.analyze(model, shapes)
    quantized = models.quantized_layers(model, shapes)
    del model
    if args.json:
        print(json.dumps(dict(summary_dict(analysis, args.model), quantized_layers=quantized)))
    else:
        print(format_summary(analysis, args.model, show_all=args.all))
        if quantized:
            print()
            print(format_quantized(quantized))
    if args.plot:
        plot_feature_maps(analysis, args.plot, os.path.basename(args.model))
        print(f"plot         {args.plot}")
    return EXIT_OK


def _kernel(layer):
    kernel = layer.attrs.get("kernel_shape")
    if kernel is None and layer.op in ("Conv", "ConvTranspose") and len(layer.inputs) > 1 \
            and layer.inputs[1] is not None:
        kernel = layer.inputs[1].shape[2:]
    return kernel


def window_text(layer) -> str:
    """k3 s2 p1 d1 g1 of a convolution or pool; empty for other ops (global pools included)."""
    kernel = _kernel(layer)
    if layer.window is None or not kernel:
        return ""
    a = layer.attrs
    rank = len(kernel)
    parts = [f"k{tables.pair(kernel)}", f"s{tables.pair(a.get('strides') or [1] * rank)}"]
    if a.get("auto_pad", "NOTSET") != "NOTSET":
        parts.append(f"p{a['auto_pad']}")
    else:
        pads = a.get("pads") or [0] * (2 * rank)
        begin, end = pads[:rank], pads[rank:]
        parts.append(f"p{tables.pair(begin)}" if begin == end
                     else f"p{tables.pair(begin)}/{tables.pair(end)}")
    if any(d != 1 for d in a.get("dilations") or [1]):
        parts.append(f"d{tables.pair(a['dilations'])}")
    if a.get("group", 1) != 1:
        parts.append(f"g{a['group']}")
    if a.get("ceil_mode", 0):
        parts.append("ceil")
    return " ".join(parts)


def _jump(layer):
    return None if layer.jump is None else list(layer.jump)


def _shown(layer, show_all):
    """Shape arithmetic (computed once, when planning, from shapes) is noise in a layer table."""
    return show_all or not layer.constant or layer.params


def format_summary(analysis, model_name: str, show_all: bool = False) -> str:
    rows = []
    total = max(analysis.macs, 1)
    for layer in analysis.layers:
        if not _shown(layer, show_all):
            continue
        rows.append([layer.name, layer.op, window_text(layer), tables.shape(layer.out_shape),
                     f"{layer.params:,}" if layer.params else "",
                     f"{layer.macs:,}" if layer.macs else "",
                     f"{100.0 * layer.macs / total:.1f}%" if layer.macs else "",
                     tables.pair(layer.rf), tables.pair(layer.jump)])
    header = ["node", "op", "window", "output", "params", "MACs", "share", "RF", "jump"]
    opsets = ", ".join(f"{d} {v}" for d, v in sorted(analysis.opsets.items()))
    batch = next(iter(analysis.input_shapes.values()), [1])[0] if analysis.input_shapes else 1
    return "\n".join([
        tables.table(header, rows, right={4, 5, 6, 7, 8}),
        "",
        f"model        {model_name}",
        f"input        {tables.shapes(analysis.input_shapes)}",
        f"parameters   {analysis.params:,}",
        f"MACs         {analysis.macs:,}  ({tables.scaled(analysis.macs, 'MACs')}, "
        f"{tables.scaled(2 * analysis.macs, 'FLOPs')})",
        f"weights      {tables.nbytes(analysis.weight_bytes)}",
        f"peak memory  {tables.nbytes(analysis.peak_activation_bytes)} of activations "
        f"(live tensors, batch {batch})",
        f"opsets       {opsets}",
        f"producer     {analysis.producer or '?'}",
    ])


def format_quantized(layers) -> str:
    """The layers that run on integer kernels, with their scales and zero points."""
    rows = [[q["node"], q["op"], q["x_scale"] or "", q["x_zero_point"] or "", q["w_scale"] or "",
             q["y_scale"] or "", q["y_zero_point"] or ""] for q in layers]
    return "\n".join([
        f"quantized    {len(layers)} layer(s) run on 8-bit integer kernels:",
        tables.table(["node", "op", "x scale", "x zp", "w scale", "y scale", "y zp"], rows,
                     right={3, 6})])


def summary_dict(analysis, model_name: str) -> dict:
    """`summary --json`: the table and the totals as plain data."""
    layers = [{"node": layer.name, "op": layer.op, "window": window_text(layer),
               "output": layer.out_shape, "params": layer.params, "macs": layer.macs,
               "rf": list(layer.rf) if layer.rf else None, "jump": _jump(layer)}
              for layer in analysis.layers]
    return {"model": model_name, "inputs": analysis.input_shapes, "layers": layers,
            "params": analysis.params, "macs": analysis.macs, "weight_bytes": analysis.weight_bytes,
            "peak_activation_bytes": analysis.peak_activation_bytes, "opsets": analysis.opsets,
            "producer": analysis.producer}


def plot_feature_maps(analysis, path: str, title: str):
    """Feature map height and channel count after each conv / pool, one point per layer."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import ScalarFormatter
    except ImportError:
        raise CLIError("--plot needs matplotlib: pip install tinycnn[plot]") from None
    points = [layer.out_shape for layer in analysis.layers
              if layer.window is not None and layer.out_shape and len(layer.out_shape) == 4]
    if not points:
        raise CLIError("--plot: the model has no 2-D convolutions or pools to draw")
    xs = range(len(points))
    fig, ax1 = plt.subplots(figsize=(max(6.0, 0.25 * len(points)), 4.0))
    ax1.plot(xs, [s[2] for s in points], "o-", color="tab:blue", label="height (pixels)")
    ax1.set_ylabel("feature map height (pixels)", color="tab:blue")
    ax1.set_yscale("log", base=2)
    ax1.set_xlabel("layer (convolutions and pools, in graph order)")
    ax2 = ax1.twinx()
    ax2.plot(xs, [s[1] for s in points], "s--", color="tab:orange", label="channels")
    ax2.set_ylabel("channels", color="tab:orange")
    ax2.set_yscale("log", base=2)
    for ax in (ax1, ax2):  # 224, 112, 56 read better than 2^7.8
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_formatter(ScalarFormatter())
    ax1.set_title(f"{title}: spatial size shrinks, depth grows")
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=100)
    except OSError as e:
        raise CLIError(f"{path}: cannot write the plot ({first_line(e)})") from None
    finally:
        plt.close(fig)
