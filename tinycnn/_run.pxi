# A plan's kernel calls run in one pass (included by _kernels.pyx before the wrappers).
#
# A run of a small network is ~50 calls of ~50 us each, and after the kernels have
# streamed megabytes of weights and activations the interpreter's code and objects are
# out of the caches: each Python-level call, and the output copy, then costs tens of times
# its warm price.  CallSequence runs a run's BoundCalls back to back from one C loop,
# without the GIL, and copies the outputs out of the arena into arrays it allocated before
# the kernels ran.

from cpython.ref cimport PyObject
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy


cdef class BoundCall:
    """Base of the kernel calls bound to fixed buffers (BoundConv2d, BoundDense...): run()
    is the kernel, without the GIL; it returns 0, or a code that failed() reports with the
    GIL.  Calling the object runs it alone."""

    cdef int run(self) noexcept nogil:
        return 0

    cdef failed(self, int rc):
        raise ValueError(f"{type(self).__name__}: the kernel refused its arguments "
                         f"(code {rc})")

    def __call__(self):
        cdef int rc
        with nogil:
            rc = self.run()
        if rc != 0:
            self.failed(rc)


cdef class CallSequence:
    """A run's calls in order: CallSequence(calls, sources=None).  calls: BoundCalls and any
    other callables without arguments; consecutive BoundCalls run in one region without the
    GIL, other callables with it, between them.  sources: arrays to copy into new arrays at
    the end of each run (run() returns the copies), C-contiguous and of plain dtypes; None
    when run() copies nothing.  Iterating yields the calls (a profiled run times each);
    failed_at is the index of the call that raised in the last run() (-1: none)."""
    cdef readonly tuple calls
    cdef readonly list sources
    cdef PyObject **items
    cdef char *bound
    cdef Py_ssize_t n
    cdef readonly Py_ssize_t failed_at

    def __cinit__(self, calls, sources=None):
        self.calls = tuple(calls)
        self.n = len(self.calls)
        self.failed_at = -1
        self.items = <PyObject **>malloc(max(self.n, 1) * sizeof(PyObject *))
        self.bound = <char *>malloc(max(self.n, 1))
        if self.items == NULL or self.bound == NULL:
            raise MemoryError("CallSequence: no memory for the calls' table")
        cdef Py_ssize_t i
        for i in range(self.n):
            call = self.calls[i]
            if not callable(call):
                raise TypeError(f"CallSequence: call {i} ({type(call).__name__}) is not callable")
            self.items[i] = <PyObject *>call     # self.calls holds the reference
            self.bound[i] = isinstance(call, BoundCall)
        if sources is not None:
            sources = list(sources)
            for i, src in enumerate(sources):
                if not (isinstance(src, cnp.ndarray) and src.flags.c_contiguous
                        and src.dtype.isnative and src.dtype.kind in "biuf"):
                    raise ValueError(f"CallSequence: source {i} must be a C-contiguous array "
                                     "of native booleans, integers or floats")
        self.sources = sources

    def __dealloc__(self):
        free(self.items)
        free(self.bound)

    def __len__(self):
        return self.n

    def __iter__(self):
        return iter(self.calls)

    def __getitem__(self, i):
        return self.calls[i]

    def run(self, bint copy=True):
        """Run every call in order; then, with copy, return new copies of the sources
        (None without sources or copy)."""
        cdef Py_ssize_t i = 0, j, k, m = 0
        cdef int rc = 0
        cdef list outs = None
        cdef cnp.ndarray src, dst
        if copy and self.sources is not None:
            # allocated before the kernels run, while the interpreter's paths are warm
            m = len(self.sources)
            outs = [None] * m
            for k in range(m):
                src = <cnp.ndarray>self.sources[k]
                outs[k] = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(src), cnp.PyArray_DIMS(src),
                                            cnp.PyArray_TYPE(src), 0)
        self.failed_at = -1
        while i < self.n:
            if not self.bound[i]:
                try:
                    (<object>self.items[i])()
                except BaseException:
                    self.failed_at = i
                    raise
                i += 1
                continue
            with nogil:
                while i < self.n and self.bound[i]:
                    rc = (<BoundCall>self.items[i]).run()
                    if rc != 0:
                        break
                    i += 1
            if rc != 0:
                self.failed_at = i
                (<BoundCall>self.items[i]).failed(rc)
                raise ValueError(f"call {i}: its kernel failed (code {rc})")  # failed() raises
        if outs is None:
            return None
        for k in range(m):
            src = <cnp.ndarray>self.sources[k]
            dst = <cnp.ndarray>outs[k]
            memcpy(cnp.PyArray_DATA(dst), cnp.PyArray_DATA(src), cnp.PyArray_NBYTES(src))
        return outs
