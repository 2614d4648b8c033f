/* SPDX-License-Identifier: MIT */
/* server.h - `osa serve` (see server.c). */
#ifndef OSAI_SERVER_H
#define OSAI_SERVER_H

#include "osai.h"

/* Serve until SIGTERM/SIGINT.  Takes ownership of `cfg`.  `config_path` is
 * re-read on SIGHUP (NULL: built-in config).  `open_flags` (OSA_OPEN_*) go
 * to the service's open.  0 or an OSA_E* code. */
int osai_serve(struct osai_config *cfg, const char *config_path,
	       unsigned open_flags);

#endif
