#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Debian's python3-hnswlib as the second peer of osa-bench-ann.

Run by osa-bench-ann (with /usr/bin/python3, where Debian's python3-hnswlib
and python3-numpy live) on the same vectors it measures itself with:

  hnswlib_peer.py BASE.fvecs QUERIES.fvecs METRIC M EFC K EF,EF,.. REPEAT
                  THREADS IDS.out

Builds an index (space cosine/l2/ip, M, ef_construction, seed 100, as the
backend), then for each ef runs knn_query over all the queries REPEAT times
(one call per pass: the library loops in C++, num_threads=THREADS; with
one thread the time is this thread's CPU time, as osa-bench-ann's own).  Writes
the labels of the last pass for each ef, in order, as int64 to IDS.out and
prints one JSON line: {"build_s": s, "qps": [per ef], "version": "..."}.
"""
import json
import sys
import time

import hnswlib
import numpy as np


def fvecs(path):
    a = np.fromfile(path, dtype=np.int32)
    d = int(a[0])
    return np.ascontiguousarray(a.reshape(-1, d + 1)[:, 1:].view(np.float32))


def main(argv):
    if len(argv) != 11:
        sys.stderr.write(__doc__)
        return 64
    base, queries = fvecs(argv[1]), fvecs(argv[2])
    metric, m, efc, k = argv[3], int(argv[4]), int(argv[5]), int(argv[6])
    efs = [int(x) for x in argv[7].split(",")]
    repeat, threads, out = int(argv[8]), int(argv[9]), argv[10]
    n, dim = base.shape

    t0 = time.perf_counter()
    idx = hnswlib.Index(space=metric, dim=dim)
    idx.init_index(max_elements=n, ef_construction=efc, M=m, random_seed=100)
    idx.add_items(base, np.arange(n), num_threads=threads)
    build = time.perf_counter() - t0

    # One thread: knn_query runs in this thread; count its CPU time, as
    # osa-bench-ann does for its own single-thread timings.
    clock = time.thread_time if threads == 1 else time.perf_counter
    qps, ids = [], []
    for ef in efs:
        idx.set_ef(ef)
        t = 0.0
        for _ in range(repeat):
            t0 = clock()
            labels, _ = idx.knn_query(queries, k=k, num_threads=threads)
            t += clock() - t0
        qps.append(len(queries) * repeat / t)
        ids.append(labels.astype(np.int64))
    np.concatenate(ids).tofile(out)
    print(json.dumps({"build_s": build, "qps": qps,
                      "version": getattr(hnswlib, "__version__", "?")}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
