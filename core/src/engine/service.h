/* SPDX-License-Identifier: MIT */
/* service.h - the index service's internals (see service.c). */
#ifndef OSAI_SERVICE_H
#define OSAI_SERVICE_H

#include <pthread.h>

#include <osa/osa.h>

#include "journal.h"
#include "osai.h"

enum { SVC_LOADING = 0, SVC_READY, SVC_DEGRADED, SVC_REBUILDING };

/*
 * One configured index.  Locks, always taken in this order:
 *   wlock  serialises every change to the index: backend writes, catch-up,
 *          checkpoint, reopen, rebuild, retry;
 *   life   the backend instance: queries, count and health hold it shared,
 *          swapping `be` holds it exclusive (writer-preferring);
 *   mu     the status fields, for readers that do not hold wlock (stats,
 *          /health, a search's error, the log trim); held only briefly.
 * "[wlock+mu]" below: written with both held, read with either held.
 */
struct svc_index {
	/* Fixed before any other thread sees the index: */
	const struct osai_index_config *cfg;
	char *dir;
	uint64_t hash;		  /* hash of the stored-affecting config */
	const char *vector_field; /* left out of metadata, or NULL */

	pthread_mutex_t wlock;
	pthread_rwlock_t life;
	pthread_mutex_t mu;

	void *be;      /* [wlock+life exclusive] backend instance, NULL when
			* closed; read with wlock or life held */
	int state;     /* [wlock+mu] SVC_* */
	char why[512]; /* [wlock+mu] reason when degraded */
	char quarantined[4400];	  /* [wlock+mu] where unreadable data went */
	uint64_t applied;	  /* [wlock+mu] highest LSN applied */
	uint64_t checkpointed;	  /* [wlock+mu] highest LSN checkpointed */
	uint64_t skipped;	  /* [wlock+mu] records this index left out */
	uint64_t ops_since_ckpt;  /* [wlock] changes since the checkpoint */
	uint64_t recs_since_ckpt; /* [wlock] srns of those changes */
	double last_ckpt;	  /* [wlock] time of the last checkpoint */
	double ckpt_seen;	  /* [wlock+mu] the same, for readers (stats) */
	double ckpt_after;	  /* [wlock] no checkpoint before (backoff) */
	double last_retry;	  /* [wlock] time of the last retry */
	/* [wlock] the backend found its own files damaged (OSA_ECORRUPT from
	 * a write or a self-check): the tick quarantines and rebuilds. */
	int damaged;
};

struct osai_service {
	/* Fixed at open, until close: */
	struct osai_config *cfg;
	const char *data_dir;
	int lock_fd;
	unsigned open_flags; /* OSA_OPEN_*, set once at open */
	struct osai_journal *journal;
	size_t n;
	struct svc_index *ix;

	/* The maintenance thread, which runs osai_service_tick(). */
	pthread_t tick_thread;
	int tick_running;	       /* only open and close touch it */
	pthread_mutex_t tick_mu;       /* guards tick_stop and tick_wake */
	pthread_cond_t tick_cv;	       /* signalled to stop or to wake early */
	int tick_stop;		       /* [tick_mu] close asked it to end */
	int tick_wake;		       /* [tick_mu] maintenance is due now */
	_Atomic uint64_t records_hint; /* journal records at the last tick */
};

/* Open the service over a loaded config (which it then owns). */
int osai_service_open(struct osai_config *cfg,
		      const struct osa_open_options *opt,
		      struct osai_service **out, struct osa_error *err);
void osai_service_close(struct osai_service *s);
/*
 * The maintenance the service's own thread runs every second, or sooner when
 * a write finds it due: retry degraded indexes (every 5 s each), checkpoint
 * indexes past `checkpoint_interval` or whose log holds more than half the
 * records, then trim the log.  Requests never run it.  Safe to call from any
 * thread (tests); errors are logged.
 */
void osai_service_tick(struct osai_service *s);
struct svc_index *osai_service_index(struct osai_service *s, const char *name);
const char *osai_index_state_name(int state);

#include "osai_engine.h"

#endif
