"""How the commands print numbers and tables (for people, and for scripts that parse them)."""
import math


def table(header, rows, right=()) -> str:
    """Columns padded to their widest cell; the columns in `right` aligned right."""
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]

    def fmt(r):
        cells = [str(c).rjust(w) if i in right else str(c).ljust(w)
                 for i, (c, w) in enumerate(zip(r, widths))]
        return "  ".join(cells).rstrip()

    return "\n".join([fmt(header)] + [fmt(r) for r in rows])


def num(x: float, digits: int = 4) -> str:
    """At least `digits` significant digits, never in exponent form."""
    if x == 0 or not math.isfinite(x):
        return f"{x:.1f}"
    decimals = max(1, digits - 1 - int(math.floor(math.log10(abs(x)))))
    return f"{x:.{decimals}f}"


def sci(x) -> str:
    """A difference: 1.23e-05, 0, inf, or - when there is none."""
    if x is None:
        return "-"
    if not math.isfinite(x):
        return "inf"
    return "0" if x == 0 else f"{x:.2e}"


def scaled(n: int, unit: str) -> str:
    """1.81 GMACs; below ten million, 0.53 MMACs."""
    return f"{n / 1e9:.2f} G{unit}" if n >= 1e7 else f"{n / 1e6:.2f} M{unit}"


def nbytes(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e5 else f"{n / 1e3:.2f} kB"


def shape(s) -> str:
    return "?" if s is None else "x".join(str(d) for d in s) if s else "scalar"


def shapes(named) -> str:
    """'x 1x3x224x224, y 1x10' of {name: shape}."""
    return ", ".join(f"{k} {shape(v)}" for k, v in named.items())


def pair(v) -> str:
    """One number when all dims agree ('3'), else 'HxW' ('3x5'); empty for nothing."""
    if not v:
        return ""
    return str(v[0]) if len(set(v)) == 1 else "x".join(str(x) for x in v)
