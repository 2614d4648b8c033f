/* SPDX-License-Identifier: MIT */
/* service.h - the index service's internals (see service.c). */
#ifndef OSAI_SERVICE_H
#define OSAI_SERVICE_H

#include <pthread.h>

#include <osa/osa.h>

#include "journal.h"
#include "osai.h"

enum { SVC_LOADING = 0, SVC_READY, SVC_DEGRADED, SVC_REBUILDING };

struct svc_index {
	const struct osai_index_config *cfg;
	char *dir;
	void *be;		/* backend instance, NULL when closed */
	int state;		/* SVC_* */
	char why[512];		/* reason when degraded */
	char quarantined[4400]; /* where unreadable data went, or "" */
	uint64_t applied;	/* highest LSN applied */
	uint64_t checkpointed;	/* highest LSN checkpointed */
	uint64_t hash;		/* hash of the stored-affecting config */
	uint64_t ops_since_ckpt;
	uint64_t skipped; /* records this index could not take */
	double last_ckpt, last_retry;
	const char *vector_field; /* left out of metadata, or NULL */
	pthread_mutex_t wlock;	  /* serialises writes to the backend */
	pthread_rwlock_t life;	  /* queries (shared) vs reopen (exclusive) */
};

struct osai_service {
	struct osai_config *cfg;
	const char *data_dir;
	int lock_fd;
	unsigned open_flags; /* OSA_OPEN_*, set once at open */
	struct osai_journal *journal;
	size_t n;
	struct svc_index *ix;
};

/* Open the service over a loaded config (which it then owns). */
int osai_service_open(struct osai_config *cfg,
		      const struct osa_open_options *opt,
		      struct osai_service **out, struct osa_error *err);
void osai_service_close(struct osai_service *s);
/* Periodic work: retry degraded indexes, time-based checkpoints. */
void osai_service_tick(struct osai_service *s);
void osai_service_retry(struct osai_service *s);
struct svc_index *osai_service_index(struct osai_service *s, const char *name);
const char *osai_index_state_name(int state);

#include <jansson.h>
/* The search reply of HTTP and `osa search --json`: {query, index, total,
 * has_more, results: [{srn, score, metadata}]}. */
json_t *osai_results_json(const char *query, const char *index,
			  const struct osa_results *r);

#endif
