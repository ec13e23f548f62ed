# A plan's kernel calls run in one pass (included by _kernels.pyx before the wrappers).
#
# A run of a small network is ~50 calls of ~50 us each, and after the kernels have
# streamed megabytes of weights and activations the interpreter's code and objects are
# out of the caches: each Python-level call, and the output copy, then costs tens of times
# its warm price.  CallSequence runs a run's BoundCalls back to back from one C loop,
# without the GIL, and copies the outputs out of the arena into arrays it allocated before
# the kernels ran.

from cpython.dict cimport PyDict_GetItem, PyDict_Size
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


cdef class RunPlan:
    """The short path of InferenceSession.run for one plan:
    RunPlan(plan, inputs, output_names, every_output, general).  inputs: ((name, shape,
    dtype), ...) of the feeds the plan was built for; output_names: the outputs it
    computes, in order; every_output: they are the model's outputs (a run may then pass
    None or []); general(plan, arena, feed): the session's run of the plan on checked feeds
    in an arena, for a plan whose outputs are not plain copies out of the arena.

    run(feed, output_names) checks in C that `feed` is a dict of exactly these names, each
    an ndarray (not a subclass) of its shape and dtype, and that output_names asks for the
    plan's outputs; then it takes an idle arena of the plan and its calls for these feed
    arrays (the last run's when they are the same arrays, read in place: nothing is bound)
    and runs them, returning copies of the outputs.  It returns None when the run is not
    its case: the session then takes its general path, which also raises the errors of
    bad feeds.  A kernel's failure is raised as is; failed_at then names the call.

    A run of a small network costs tens of us of Python around its kernels, mostly cache
    misses on the interpreter's code and objects after the kernels evicted them; here it
    is a few C loops over a handful of objects."""
    cdef readonly object plan
    cdef readonly tuple names        # the inputs' names
    cdef readonly tuple output_names
    cdef tuple shapes                # of tuples of ints
    cdef tuple dtypes                # of numpy dtypes
    cdef Py_ssize_t n
    cdef bint every_output
    cdef object general
    cdef list idle                   # plan._free, the plan's idle arenas
    cdef int plain                   # outputs copied out by the calls: 1, 0, -1 unknown
    cdef object arena                # the last arena whose calls read the feeds in place,
    cdef tuple arrays                # those feeds,
    cdef CallSequence sequence       # and its calls for them
    cdef readonly Py_ssize_t failed_at

    def __cinit__(self, plan, inputs, output_names, bint every_output, general):
        inputs = tuple(inputs)
        self.plan = plan
        self.names = tuple(str(name) for name, _, _ in inputs)
        self.shapes = tuple(tuple(int(d) for d in shape) for _, shape, _ in inputs)
        self.dtypes = tuple(np.dtype(dtype) for _, _, dtype in inputs)
        self.n = len(inputs)
        self.output_names = tuple(output_names)
        self.every_output = every_output
        self.general = general
        self.idle = plan._free
        if type(self.idle) is not list or not callable(general):
            raise TypeError("RunPlan: plan._free must be the plan's list of idle arenas, "
                            "general a callable")
        self.plain = -1
        self.failed_at = -1

    cdef bint _matches(self, feed, output_names):
        cdef Py_ssize_t i, k
        cdef PyObject *item
        cdef cnp.ndarray a
        cdef tuple shape
        if output_names is None or ((type(output_names) is list or type(output_names) is tuple)
                                    and len(output_names) == 0):
            if not self.every_output:
                return False
        elif type(output_names) is list or type(output_names) is tuple:
            if len(output_names) != len(self.output_names):
                return False
            for i in range(len(output_names)):
                name = output_names[i]
                if type(name) is not str or name != self.output_names[i]:
                    return False
        else:
            return False
        if type(feed) is not dict or PyDict_Size(feed) != self.n:
            return False
        for i in range(self.n):
            item = PyDict_GetItem(feed, self.names[i])
            if item == NULL or type(<object>item) is not np.ndarray:
                return False
            a = <cnp.ndarray>item
            shape = <tuple>self.shapes[i]
            if cnp.PyArray_NDIM(a) != len(shape):
                return False
            for k in range(len(shape)):
                if cnp.PyArray_DIMS(a)[k] != <Py_ssize_t>shape[k]:
                    return False
            if not cnp.PyArray_EquivTypes(a.descr, <cnp.dtype>self.dtypes[i]):
                return False
        return True

    def matches(self, feed, output_names=None):
        """Whether run() takes this feed and these output names."""
        return self._matches(feed, output_names)

    def run(self, feed, output_names=None):
        """Copies of the outputs of a run on `feed`, or None when it is not this plan's
        case (see the class)."""
        cdef CallSequence seq = None
        cdef Py_ssize_t i
        if not self._matches(feed, output_names):
            return None
        # one statement in C, holding the GIL: no other thread pops the same arena
        arena = self.idle.pop() if self.idle else self.plan.acquire()
        try:
            if self.plain < 0:
                self.plain = (not arena.direct and self.plan.plain_outputs
                              and arena.sequence.sources is not None)
            if not self.plain:
                return self.general(self.plan, arena, feed)
            if arena is self.arena:
                seq = self.sequence
                for i in range(self.n):
                    if <object>PyDict_GetItem(feed, self.names[i]) is not self.arrays[i]:
                        seq = None
                        break
            if seq is None:
                seq = arena.calls_for(feed)
                reused = arena._reused
                if reused is not None and reused[1] is seq:   # every feed read in place
                    self.arrays = tuple(feed[name] for name in self.names)
                    self.arena, self.sequence = arena, seq
            self.failed_at = -1
            try:
                return seq.run(True)
            except BaseException:
                self.failed_at = seq.failed_at
                raise
        finally:
            self.idle.append(arena)
