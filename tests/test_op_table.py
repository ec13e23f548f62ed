"""The op table: supported_ops(), the README's generated copy, and unsupported ops at load
(every one listed at once, with its domain, opset and nodes)."""
import os
import re

import pytest
import onnx.defs
from onnx import helper

import tinycnn
import tinycnn.ops
from helpers import make_model

README = os.path.join(os.path.dirname(__file__), "..", "README.md")
BEGIN, END = "<!-- ops-table:begin -->", "<!-- ops-table:end -->"


def introduced(op_type, domain=""):
    """The opset that introduced op_type, from onnx's own schemas."""
    return min(s.since_version for s in onnx.defs.get_all_schemas_with_history()
               if s.name == op_type and s.domain == domain)


def deprecated(op_type, domain=""):
    """The opset at which onnx deprecated op_type (its newest schema is a deprecation), or None."""
    newest = max((s for s in onnx.defs.get_all_schemas_with_history()
                  if s.name == op_type and s.domain == domain), key=lambda s: s.since_version)
    return newest.since_version if newest.deprecated else None


def test_every_op_covers_opsets_7_to_21_without_gaps_or_overlaps():
    """ONNX ops from their introduction (or opset 7) to 21; onnxruntime's com.microsoft
    ops (the quantized models' QLinearAdd...) at that domain's opset 1."""
    rows = tinycnn.supported_ops()
    by_op = {}
    for r in rows:
        assert r["domain"] in ("ai.onnx", "com.microsoft"), r
        assert r["since"] <= r["until"], r
        assert r["notes"], f"{r['op_type']} {r['since']}-{r['until']} has no notes for the README"
        if r["domain"] == "com.microsoft":
            assert r["since"] == 1, r
            continue
        by_op.setdefault(r["op_type"], []).append((r["since"], r["until"]))
    for name, ranges in by_op.items():
        ranges.sort()
        for (_, end), (start, _) in zip(ranges, ranges[1:]):
            assert start == end + 1, f"{name}: ranges {ranges} leave a gap or overlap"
        assert ranges[0][0] <= max(7, introduced(name)), f"{name} starts at opset {ranges[0][0]}"
        end = deprecated(name)
        if end is not None:  # Upsample: deprecated by Resize at opset 10
            assert ranges[-1][1] == end - 1, f"{name} is deprecated at {end}, stops at {ranges[-1][1]}"
        else:
            assert ranges[-1][1] >= 21, f"{name} stops at opset {ranges[-1][1]}"


def test_issue_3_ops_are_all_in_the_table():
    listed = {r["op_type"] for r in tinycnn.supported_ops()}
    wanted = """Conv MaxPool AveragePool GlobalAveragePool GlobalMaxPool Relu LeakyRelu PRelu Clip
        Sigmoid HardSigmoid HardSwish Flatten Gemm MatMul Add Sub Mul Div Sum Max Min
        BatchNormalization LRN Dropout Softmax Reshape Identity Concat ReduceMean Constant
        ConstantOfShape Shape Gather Unsqueeze Squeeze Transpose Pad Slice""".split()
    assert not set(wanted) - listed


def test_markdown_table_has_one_row_per_range():
    table = tinycnn.ops.markdown_table()
    lines = table.strip().split("\n")
    assert lines[0] == "| Operator | Opsets | Notes |"
    assert len(lines) == 2 + len(tinycnn.supported_ops())
    assert "| Softmax | 13-28 |" in table or re.search(r"\| Softmax \| 13-\d+ \|", table)


def test_readme_table_is_the_generated_one():
    with open(README, encoding="utf-8") as f:
        text = f.read()
    assert BEGIN in text and END in text, "README.md lost its ops-table markers"
    block = text.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n")
    assert block + "\n" == tinycnn.ops.markdown_table(), (
        "README.md's op table differs from tinycnn.ops.markdown_table(): run "
        "`python -m tinycnn.ops README.md`")


def test_unsupported_ops_are_listed_at_load_with_domain_opset_and_nodes():
    """All at once: an op unknown at any opset, one too new for the model's opset, a custom
    domain, and a domain the model does not even import."""
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="fine"),
             helper.make_node("HardSwish", ["a"], ["b"], name="hs1"),      # from opset 14 only
             helper.make_node("HardSwish", ["b"], ["c"], name="hs2"),
             helper.make_node("Einsum", ["c", "c"], ["d"], equation="i,i->i", name="ein"),
             helper.make_node("Fancy", ["d"], ["e"], name="fancy", domain="com.example"),
             helper.make_node("Thing", ["e"], ["y"], name="thing", domain="com.other")]
    model = make_model(nodes, [("x", [4])], [("y", [4])], opset=13)
    model.opset_import.append(helper.make_opsetid("com.example", 2))
    with pytest.raises(tinycnn.UnsupportedOperator) as e:
        tinycnn.InferenceSession(model)
    msg = str(e.value)
    assert "4 operator(s)" in msg, msg
    assert re.search(r"com\.other::Thing \(opset \w+\) used by 1 node\(s\): 'thing'", msg), msg
    assert re.search(r"ai\.onnx::HardSwish \(opset 13\) used by 2 node\(s\): 'hs1', 'hs2'", msg), msg
    assert re.search(r"ai\.onnx::Einsum \(opset 13\) used by 1 node\(s\): 'ein'", msg), msg
    assert re.search(r"com\.example::Fancy \(opset 2\) used by 1 node\(s\): 'fancy'", msg), msg
    assert "Relu" not in msg


def test_many_nodes_of_one_unsupported_op_are_abbreviated():
    nodes = [helper.make_node("Einsum", ["x" if i == 0 else f"t{i - 1}", "x"],
                              [f"t{i}" if i < 6 else "y"], equation="i,i->i", name=f"e{i}")
             for i in range(7)]
    with pytest.raises(tinycnn.UnsupportedOperator, match=r"7 node\(s\): 'e0', 'e1', 'e2', 'e3', 'e4', \.\.\."):
        tinycnn.InferenceSession(make_model(nodes, [("x", [4])], [("y", [4])]))
