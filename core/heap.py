"""glibc's heap, tuned two ways: a training process keeps its freed step buffers warm
(`tune_cpu_allocator`), the long-lived app server gives them back (`lean_server_allocator`,
`trim_heap`). Plain ctypes: importing this never imports torch (the app's first page needs it)."""
from __future__ import annotations

import ctypes
import ctypes.util
import functools

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8


@functools.cache
def tune_cpu_allocator() -> bool:
    """Keep freed activation/gradient buffers in the heap instead of returning them to the OS.

    A training step allocates and frees the same multi-MB tensors every step; glibc serves
    those with fresh mmap pages (a page fault per 4 KB on first touch) and trims the heap
    after each free. Raising both thresholds lets the step reuse warm memory: +10–25 %
    img/s on this 2-core CPU. Process-wide and idempotent; a no-op off glibc."""
    try:
        libc = _libc()
        ok = libc.mallopt(_M_MMAP_THRESHOLD, 32 * 1024 * 1024)  # glibc's maximum
        ok &= libc.mallopt(_M_TRIM_THRESHOLD, 1024 * 1024 * 1024)
        return bool(ok)
    except (OSError, AttributeError):
        return False


def _libc():
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")


def lean_server_allocator() -> bool:
    """The opposite of tune_cpu_allocator, for the long-lived app server: large buffers (a
    classifier batch's activations, a map's features) get their own pages and go back to the OS
    when freed, and a free top of heap over 8 MB is trimmed. Without it glibc's sliding mmap
    threshold keeps every page's transient peak in the heap for good (the server grew to 1.9 GB
    after every page had been used; ~1.35 GB with this and trim_heap, measured with AppTest).
    Training runs in its own processes and keeps tune_cpu_allocator. A no-op off glibc."""
    try:
        libc = _libc()
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, 1024 * 1024) & libc.mallopt(_M_TRIM_THRESHOLD, 8 * 1024 * 1024)
                    & libc.mallopt(_M_ARENA_MAX, 2))  # each session's thread would get an arena of its own
    except (OSError, AttributeError):
        return False


def trim_heap() -> bool:
    """Give the heap's free pages back to the OS (glibc malloc_trim): the server calls it after
    each page run, so memory a page freed is not kept at its peak. A no-op off glibc."""
    try:
        return bool(_libc().malloc_trim(0))
    except (OSError, AttributeError):
        return False
