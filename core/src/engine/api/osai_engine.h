/* SPDX-License-Identifier: MIT */
/*
 * osai_engine.h - what the front ends (core/src/server, core/cli) use of the
 * engine beyond the public C API in <osa/osa.h>.  They see nothing else of
 * it: the engine's other headers are not on their include path.
 */
#ifndef OSAI_ENGINE_H
#define OSAI_ENGINE_H

#include <osa/osa.h>

#include "jtext.h"
#include "osai.h"

/*
 * osa_open_file() over a configuration the caller already loaded and
 * validated (the server reads its own settings from it first, and loads a
 * new one on SIGHUP); the database owns `cfg` from the call on, also on
 * failure.  Close with osa_close().
 */
int osai_db_open(struct osai_config *cfg, const struct osa_open_options *opt,
		 struct osa_db **out, struct osa_error *err);

/* The search reply of HTTP and `osa search --json`, appended to b: {query,
 * index, total, total_exact, has_more, results: [{srn, score, metadata}],
 * facets}, each metadata spliced in as stored; for a hybrid search (q->
 * nindexes) also "indexes", "fusion", "rrf_k", "totals" (per index: total
 * and exact) and each result's "ranks" (index name -> rank from 1, for the
 * indexes holding it in their window).  0, or -1 when out of memory
 * (b->oom). */
int osai_search_text(struct osai_buf *b, const struct osa_search *q,
		     const struct osa_results *r);

#endif /* OSAI_ENGINE_H */
