/* SPDX-License-Identifier: MIT */
/* srn.h - record identifier validation (see srn.c for the grammar). */
#ifndef OSAI_SRN_H
#define OSAI_SRN_H

#include <stdio.h>

/* 0 if `srn` is valid (any != 0: the opaque "any" form), else -1 and why. */
int osai_srn_check(const char *srn, int any, char *why, size_t n);

#endif
