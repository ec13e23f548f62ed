import pytest

from tinycnn import _kernels


def test_context_rejects_bad_arguments():
    with pytest.raises(ValueError, match="num_threads"):
        _kernels.Context(0)
    with pytest.raises(ValueError, match="isa"):
        _kernels.Context(1, "sse9")


def test_portable_context_always_available():
    ctx = _kernels.Context(2, "portable")
    assert ctx.isa == "portable" and ctx.num_threads == 2
