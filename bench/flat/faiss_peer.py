#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# faiss_peer.py - the FAISS side of osa-bench-flat: exact inner-product
# search with faiss.IndexFlatIP on the base and queries the bench wrote as
# .fvecs, batched (all queries in one call) and one query at a time.
# Prints one JSON object: qps figures and the top-k ids of every query (so
# the bench can check both agree).
#
#   faiss_peer.py BASE.fvecs QUERIES.fvecs K SINGLE_N
import json
import sys
import time

import numpy as np

try:
    import faiss
except ImportError:
    print(json.dumps({"error": "python3 cannot import faiss"}))
    sys.exit(3)


def read_fvecs(path):
    raw = np.fromfile(path, dtype=np.int32)
    if raw.size == 0:
        raise SystemExit(f"{path}: empty")
    dim = int(raw[0])
    if dim < 1 or raw.size % (dim + 1):
        raise SystemExit(f"{path}: not an .fvecs file")
    return raw.reshape(-1, dim + 1)[:, 1:].copy().view(np.float32)


def main():
    base = read_fvecs(sys.argv[1])
    queries = read_fvecs(sys.argv[2])
    k = int(sys.argv[3])
    single_n = min(int(sys.argv[4]), len(queries))
    index = faiss.IndexFlatIP(base.shape[1])
    t0 = time.perf_counter()
    index.add(base)
    build = time.perf_counter() - t0
    index.search(queries[:8], k)  # warm up
    t0 = time.perf_counter()
    _, ids = index.search(queries, k)
    batched = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(single_n):
        index.search(queries[i:i + 1], k)
    single = time.perf_counter() - t0
    print(json.dumps({
        "batched_qps": len(queries) / batched,
        "single_qps": single_n / single,
        "build_per_s": len(base) / build if build > 0 else 0,
        "threads": faiss.omp_get_max_threads(),
        "ids": ids.tolist(),
    }))


main()
