/* SPDX-License-Identifier: MIT */
/*
 * osai_engine.h - what the front ends (core/src/server, core/cli) use of the
 * engine beyond the public C API in <osa/osa.h>.  They see nothing else of
 * it: the engine's other headers are not on their include path.
 */
#ifndef OSAI_ENGINE_H
#define OSAI_ENGINE_H

#include <jansson.h>

#include <osa/osa.h>

#include "osai.h"

/*
 * osa_open_file() over a configuration the caller already loaded and
 * validated (the server reads its own settings from it first, and loads a
 * new one on SIGHUP); the database owns `cfg` from the call on, also on
 * failure.  Close with osa_close().
 */
int osai_db_open(struct osai_config *cfg, const struct osa_open_options *opt,
		 struct osa_db **out, struct osa_error *err);

/* The search reply of HTTP and `osa search --json`: {query, index, total,
 * has_more, results: [{srn, score, metadata}]}. */
json_t *osai_results_json(const char *query, const char *index,
			  const struct osa_results *r);

#endif /* OSAI_ENGINE_H */
