"""python -m tinycnn.ops [README.md]: print the op table, or rewrite it in a README.

The README's "Supported operators" table is generated from the op registrations (their op
type, opset range and notes), between the markers below; tests/test_op_table.py fails when
the two differ.  After adding or changing an op: `python -m tinycnn.ops README.md`.
"""
import sys

from . import markdown_table

BEGIN, END = "<!-- ops-table:begin -->", "<!-- ops-table:end -->"


def rewrite(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{path}: no {BEGIN} ... {END} markers to put the op table between")
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    new = f"{head}{BEGIN}\n{markdown_table()}{END}{tail}"
    with open(path, "w", encoding="utf-8") as f:
        f.write(new)
    return new != text


def main(argv):
    if len(argv) > 1:
        raise SystemExit("usage: python -m tinycnn.ops [README.md]")
    if not argv:
        sys.stdout.write(markdown_table())
    elif rewrite(argv[0]):
        print(f"{argv[0]}: op table updated")
    else:
        print(f"{argv[0]}: op table already up to date")


if __name__ == "__main__":
    main(sys.argv[1:])
