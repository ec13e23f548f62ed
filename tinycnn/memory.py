"""Memory for a session's long-lived large blocks: its packed weights and its arenas.

A run streams every layer's packed weights and its activations through the TLB.  On 4 KiB
pages MobileNetV2's ~14 MB of weights are ~3,500 pages, in as many small arrays as it has
layers; a 2 MiB huge page covers 512 of them.  Linux backs an anonymous private mapping with
transparent huge pages when its THP mode (/sys/kernel/mm/transparent_hugepage/enabled) is
`always`, or `madvise` and the range is advised MADV_HUGEPAGE, as it is here.  Under `never`,
or where the OS has no such advice (madvise failing is ignored), the same blocks are ordinary
pages: the same bits, only the speed differs.

- huge_empty(nbytes): one 64-byte aligned block; from HUGE_PAGE bytes on, a mapping of its
  own, 2 MiB aligned, its whole huge pages advised (an Arena's buffer).
- Blocks: 64-byte aligned arrays carved one after the other from such mappings, for the many
  small packed-weight arrays of a session (Context.weights): one huge page holds the weights
  of many layers.  The first SMALL_BYTES go to ordinary memory, so that a small model does
  not pay a 2 MiB page for a few kB of weights.

Private anonymous mappings are copied on write by fork(), as malloc's memory is.  A mapping
is unmapped when the last array viewing it is freed.

- give_back_freed(): after a session's load, glibc's free heap memory returned to the OS.
  The load's temporaries (initializers being rewritten, packing buffers) are freed into
  malloc's heap; without Blocks the packed weights allocated next reuse them, with Blocks
  they stay resident (ResNet-50: 12 MB, measured with /proc/self/smaps, 2026-12-02).
- new_lock_after_fork(owner, attr): a lock of a long-lived object (a Blocks', a plan's)
  made anew in a fork()ed child: a thread of the parent holding it at the fork does not
  exist in the child, which would otherwise wait on it for ever.
"""
import ctypes
import ctypes.util
import mmap
import os
import sys
import threading
import weakref

import numpy as np

HUGE_PAGE = 2 << 20
ALIGN = 64            # bytes: every block starts on a cache line (and an AVX-512 vector)
CHUNK = 32 << 20      # bytes mapped at a time by Blocks: address space only, until touched
SMALL_BYTES = 1 << 20  # the first bytes a Blocks hands out: ordinary memory

_MADV_HUGEPAGE = getattr(mmap, "MADV_HUGEPAGE", None)
_MADV_NOHUGEPAGE = getattr(mmap, "MADV_NOHUGEPAGE", None)
_MADV_DONTNEED = getattr(mmap, "MADV_DONTNEED", None)
_MAP_PRIVATE = getattr(mmap, "MAP_PRIVATE", None)


# (owner, attribute) of the locks made anew in a forked child, weakly: the owners come and go
_FORK_LOCKS = weakref.WeakKeyDictionary()


def new_lock_after_fork(owner, attr="_lock"):
    """Give owner.<attr> a new threading.Lock now, and again in every child fork() makes
    (os.register_at_fork, once for all owners).  Only for locks whose holder leaves the
    object usable at any point: the child's state is the parent's at the fork."""
    setattr(owner, attr, threading.Lock())
    _FORK_LOCKS.setdefault(owner, set()).add(attr)


def _renew_locks():
    for owner, attrs in list(_FORK_LOCKS.items()):
        for attr in attrs:
            setattr(owner, attr, threading.Lock())


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_renew_locks)


def _malloc_trim():
    """glibc's malloc_trim, or None (another C library, another OS)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


_MALLOC_TRIM = _malloc_trim()


def give_back_freed():
    """Return the free pages of malloc's heap to the OS where the C library can (glibc's
    malloc_trim(0): every free page, not only the heap's top); else nothing."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _round_up(n, m):
    return (n + m - 1) // m * m


def aligned_empty(nbytes):
    """nbytes (at least 1) of ordinary memory as a 64-byte aligned uint8 array."""
    buf = np.empty(max(nbytes, 1) + ALIGN, np.uint8)
    start = (-buf.ctypes.data) % ALIGN
    return buf[start:start + max(nbytes, 1)]


def _mapping(nbytes):
    """nbytes as a uint8 array starting on a 2 MiB boundary of a private anonymous mapping,
    its whole huge pages advised MADV_HUGEPAGE; None where there is no such mapping."""
    mapped = _map(nbytes)
    return None if mapped is None else mapped[0]


def _map(nbytes):
    """(_mapping's array, its mmap, the array's offset in it), or None."""
    if _MAP_PRIVATE is None:
        return None
    try:
        # HUGE_PAGE more than asked, for the alignment: address space, never touched
        mm = mmap.mmap(-1, nbytes + HUGE_PAGE, flags=_MAP_PRIVATE)
    except (OSError, ValueError, OverflowError):
        return None
    whole = np.frombuffer(mm, np.uint8)
    start = (-whole.ctypes.data) % HUGE_PAGE
    advised = nbytes // HUGE_PAGE * HUGE_PAGE
    if _MADV_HUGEPAGE is not None and advised:
        try:
            mm.madvise(_MADV_HUGEPAGE, start, advised)
        except (OSError, ValueError):
            pass  # no THP in this kernel: ordinary pages, the same bits
    return whole[start:start + nbytes], mm, start


def _release_tail(mm, start, used, size):
    """The pages of mm's block [start, start + size) after its first `used` bytes, which
    nothing will use, given back: on ordinary pages from the next page on (the huge page
    they were part of is split), not to be merged into a huge page again.  Only where
    the OS has both advices; a failure leaves them as they were."""
    lo = start + _round_up(used, mmap.PAGESIZE)
    hi = start + size
    if hi <= lo or _MADV_NOHUGEPAGE is None or _MADV_DONTNEED is None:
        return
    try:
        mm.madvise(_MADV_NOHUGEPAGE, lo, hi - lo)
        mm.madvise(_MADV_DONTNEED, lo, hi - lo)
    except (OSError, ValueError):
        pass


def huge_empty(nbytes):
    """A 64-byte aligned uint8 array of nbytes (at least 1), uninitialised: from HUGE_PAGE
    bytes on, on huge pages where the OS gives them (its own mapping, 2 MiB aligned; the
    tail after its last whole huge page is on ordinary pages: no page bigger than asked)."""
    if nbytes >= HUGE_PAGE:
        buf = _mapping(nbytes)
        if buf is not None:
            return buf
    return aligned_empty(nbytes)


class Blocks:
    """An allocator of 64-byte aligned blocks for a session's packed weights, as
    Context.weights: .empty(nbytes) -> a uint8 array.  Blocks are carved one after the
    other from chunks of CHUNK bytes (bigger ones for bigger blocks) on huge pages, after
    the first SMALL_BYTES from ordinary memory.  A chunk lives while a block of it does.
    Thread-safe; resident memory beyond the blocks: at most the unused part of the last
    huge page touched in the current chunk (the chunks left behind give theirs back: on
    ResNet-50, 9.6 MB of 265 with THP, 2026-12-02)."""

    def __init__(self, chunk=CHUNK, small=SMALL_BYTES):
        self._chunk = _round_up(max(int(chunk), HUGE_PAGE), HUGE_PAGE)
        self._small = int(small)
        new_lock_after_fork(self)   # a fork while another thread carves: see empty
        self._block = None     # the chunk blocks are carved from
        self._mm = None        # (its mmap, its offset there)
        self._at = 0           # its first free byte
        self.used = 0          # bytes handed out (rounded to ALIGN)
        self.mapped = 0        # bytes of the chunks mapped (address space)

    def empty(self, nbytes):
        # Forked while another thread is in here, the child's copy may count a block that
        # thread never got, or hand out again a part of the chunk it got: the child never
        # sees those blocks, so both are harmless.
        n = _round_up(max(int(nbytes), 1), ALIGN)
        with self._lock:
            self.used += n
            if self.used <= self._small:
                return aligned_empty(n)
            room = 0 if self._block is None else self._block.shape[0] - self._at
            if n > room:
                size = _round_up(max(n, self._chunk), HUGE_PAGE)
                mapped = _map(size)
                if mapped is None:
                    return aligned_empty(n)
                block, mm, start = mapped
                self.mapped += size
                if size - n <= room:
                    # a block of its own (the current chunk has more room): its last huge
                    # page's unused part would stay resident with it
                    _release_tail(mm, start, n, size)
                    return block[:n]
                if self._block is not None:
                    # the chunk left: its last huge page's unused part would stay resident
                    _release_tail(*self._mm, self._at, self._block.shape[0])
                self._block, self._at, self._mm = block, 0, (mm, start)
            out = self._block[self._at:self._at + n]
            self._at += n
            return out

    def __repr__(self):
        return f"Blocks(used={self.used}, mapped={self.mapped})"
