"""The C allocator of the processes graves-data owns, kept from handing freed memory back.

A unit's array code makes many temporaries of a few hundred KB to a few MB. With glibc's
defaults each one above its (sliding) mmap threshold is a fresh mapping, or lands at the top of
a heap that is trimmed when it is freed, so the next one faults its pages in again: about 80,000
page faults per pass over the real release's stroke files, some 8% of the fast reader's time.
`keep_freed_memory` sets both thresholds (mallopt(3)) so that freed blocks up to
`MMAP_THRESHOLD` are reused from the heap and up to `TRIM_THRESHOLD` of free heap is kept. It is
called where graves-data owns the process (the command-line programs, and the local worker
processes it starts); a program that calls the library keeps its own allocator settings.
"""

from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's <malloc.h>
MMAP_THRESHOLD = 32 << 20  # glibc's largest (DEFAULT_MMAP_THRESHOLD_MAX on 64-bit)
TRIM_THRESHOLD = 128 << 20


def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds for this process (and the ones it forks); False,
    changing nothing, where the C library is not glibc (macOS, musl, Windows)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018 (glibc's own symbol: musl has a mallopt stub)
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    mapped = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    return bool(mapped and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
