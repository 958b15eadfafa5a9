"""The process's malloc settings for training: a step's freed memory is kept for the next step.

A training step allocates and frees the same large temporaries every step (at 20 heavy members
an activation is 20 × 1000 × 50 floats, 4 MB). With glibc's default thresholds malloc hands them
back to the kernel (munmap above its mmap threshold, trimming the heap's top above its trim
threshold) and the next step takes them back page by page: measured at 20 heavy members, ~5000
page faults and ~15 ms of kernel time in a 55 ms step. Setting both thresholds (which also
turns off glibc's own adjustment of them) keeps that memory in the process: the peak resident
memory is what it was, it is just not given back between steps.

The numbers do not change: torch aligns every tensor's storage to 64 bytes whatever malloc
returns, and nothing else about where memory comes from enters the arithmetic
(tests/test_training.py and tests/test_presets.py check the numbers bit for bit).
"""

from __future__ import annotations

import ctypes
import functools

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
# Chunks above this come from mmap (one exact-evaluation block of 4M float64 is 32 MiB): glibc's
# own ceiling for its adjustable threshold.
MMAP_THRESHOLD = 32 << 20
# Free memory at the heap's top kept before trimming: above the temporaries of one step of the
# largest ensembles (64 heavy members: ~15 activations of 13 MB).
TRIM_THRESHOLD = 256 << 20


@functools.cache
def keep_freed_memory() -> bool:
    """Set the thresholds, once per process; False where malloc is not glibc's (nothing done)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
