"""The op table: one small function per ONNX op, registered with its opset range.

An op function is called once per plan (per set of input shapes), never per
run.  It receives a `NodeContext` (tinycnn.ir) and the node's inputs as
`Value`s (shape, dtype and, when known at plan time, the constant value), plus
the node's attributes as keyword arguments, with the defaults of the ONNX spec.
It returns its outputs: numpy arrays for values it could compute at plan time
(shape arithmetic), or Values produced by `n.emit(...)`, which schedules a
kernel call for every run.

Everything else tinycnn knows about an op comes from its registration, so that
adding an op means writing its module (and its C kernel, if it needs one):
  - since/until: the opset range; ops whose semantics changed between opsets are
    registered once per range, next to each other (`Softmax_1`, `Softmax_13`);
  - notes: the README's line (default: the first line of the docstring);
  - shape_inputs: positions of the inputs that must be known at plan time (Reshape's
    shape...); the session specialises its plans on their values when they are fed;
  - cost: cost(inputs, outputs, **attrs) -> multiply-accumulates, from the Values'
    shapes (summary, profile and the benchmarks read it; None: no arithmetic to count);
  - window: window(inputs, outputs, **attrs) -> per spatial dim (span, stride) in input
    pixels, stride a fraction for upsampling ops (the receptive field of `summary`);
    None: the op keeps each pixel's field (element-wise, normalisation);
  - nondeterministic: never folded at plan time even without inputs;
  - channels_last: the op accepts inputs stored channels last (Value.layout, the
    quantized pipeline's); for every other op the planner converts them first.
"""
import functools
import inspect
from dataclasses import dataclass

from ..errors import UnsupportedOperator

MIN_OPSET = 1    # opsets 1-6 differ from 7 by legacy attributes, handled where they matter
MAX_OPSET = 28   # the newest opset (onnx 1.23) whose changes to our ops we checked: after 19
                 # they only add element types (and Cast's round_mode, for float8 targets)
FUSED_DOMAIN = "tinycnn"   # the internal ops graph rewriting creates (Conv with an epilogue...)


@dataclass(frozen=True)
class OpDef:
    op_type: str
    domain: str
    since: int
    until: int
    fn: object
    notes: str
    shape_inputs: tuple = ()
    cost: object = None
    window: object = None
    nondeterministic: bool = False
    channels_last: bool = False


_TABLE = {}


def op(op_type, since=MIN_OPSET, until=MAX_OPSET, domain="", notes="", shape_inputs=(),
       cost=None, window=None, nondeterministic=False, channels_last=False):
    """Register `fn` as the implementation of op_type for opsets since..until (see above)."""
    def register(fn):
        defs = _TABLE.setdefault((domain, op_type), [])
        for d in defs:
            if not (until < d.since or since > d.until):
                raise RuntimeError(f"overlapping registrations for {op_type}")
        impl = fn
        if since < 6 and "consumed_inputs" not in inspect.signature(fn).parameters:
            impl = _without_consumed_inputs(fn)
        defs.append(OpDef(op_type, domain, since, until, impl,
                          notes or (fn.__doc__ or "").strip().split("\n")[0],
                          tuple(shape_inputs), cost, window, nondeterministic, channels_last))
        defs.sort(key=lambda d: d.since)
        return fn
    return register


def _without_consumed_inputs(fn):
    """Opsets 1-5 carry `consumed_inputs`, an in-place hint of the time with no effect on values."""
    @functools.wraps(fn)
    def wrapper(n, *inputs, consumed_inputs=None, **attrs):
        return fn(n, *inputs, **attrs)
    return wrapper


def lookup(domain, op_type, opset):
    """The OpDef for op_type at this opset, or None."""
    for d in _TABLE.get((domain, op_type), ()):
        if d.since <= opset <= d.until:
            return d
    return None


def registrations(include_internal=False):
    """Every OpDef, sorted by (domain, op type, since); tinycnn's fused forms only on request."""
    return [d for key in sorted(_TABLE) for d in _TABLE[key]
            if include_internal or key[0] != FUSED_DOMAIN]


def shape_inputs(domain, op_type, opset):
    """Positions of the inputs of op_type (at this opset) that must be known at plan time."""
    d = lookup(domain, op_type, opset)
    return d.shape_inputs if d is not None else ()


def supported_ops():
    """The op table: a list of dicts (op_type, domain, since, until, notes, shape_inputs),
    sorted by op type.  Internal ops (tinycnn's fused forms) are not listed."""
    rows = [{"op_type": d.op_type, "domain": d.domain or "ai.onnx", "since": d.since,
             "until": d.until, "notes": d.notes, "shape_inputs": d.shape_inputs}
            for d in registrations()]
    return sorted(rows, key=lambda r: (r["op_type"], r["since"]))


def markdown_table():
    """The op table as Markdown, for the README (generated, so the two never drift)."""
    lines = ["| Operator | Opsets | Notes |", "|---|---|---|"]
    for r in supported_ops():
        name = r["op_type"] if r["domain"] == "ai.onnx" else f"{r['domain']}::{r['op_type']}"
        notes = r["notes"].replace("|", "\\|")
        opsets = f"{r['since']}-{r['until']}" if r["since"] < r["until"] else str(r["since"])
        lines.append(f"| {name} | {opsets} | {notes} |")
    return "\n".join(lines) + "\n"


def check_supported(nodes, opsets, source):
    """Raise UnsupportedOperator listing every (domain, op, opset) not in the table, with node names."""
    missing = {}
    for node in nodes:
        opset = opsets.get(node.domain)
        if opset is None or lookup(node.domain, node.op_type, opset) is None:
            key = (node.domain or "ai.onnx", node.op_type, opset)
            missing.setdefault(key, []).append(node.name)
    if missing:
        lines = []
        for (domain, op_type, opset), names in sorted(missing.items(), key=str):
            shown = ", ".join(repr(n) for n in names[:5]) + (", ..." if len(names) > 5 else "")
            lines.append(f"  {domain}::{op_type} (opset {opset}) used by {len(names)} node(s): {shown}")
        raise UnsupportedOperator(
            f"{source}: the model uses {len(missing)} operator(s) tinycnn does not implement:\n"
            + "\n".join(lines))


# Importing the op modules fills the table.
from . import conv, conv_transpose, dense, elementwise, logic, norm, pool, reduce, resize, tensor  # noqa: E402,F401
from . import fused_cp, fused_fire, fused_ir, fused_pg, fused_stem, qconv, qelementwise, qmatmul, quantize, se  # noqa: E402,F401
