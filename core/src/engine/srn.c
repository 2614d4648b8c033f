/* SPDX-License-Identifier: MIT */
/*
 * srn.c - validation of record identifiers.
 *
 * OSA form: urn:osa:<domain>:<type>:<local-id>[@<version>]
 *   domain   a DNS name: labels of [a-z0-9-] (1..63, not starting or ending
 *            with '-'), dot-separated, at least two labels, at most 253
 *   type     rec | dep | schema | vocab | snap | evt | val
 *   local-id [a-z0-9-]{3,64}
 *   version  a positive integer, or a semver MAJOR.MINOR.PATCH with an
 *            optional -prerelease / +build of [0-9A-Za-z.-]
 * Any form: 1..512 bytes of printable UTF-8 (no control characters).
 */
#include <string.h>

#include "srn.h"

static int srn_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int srn_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || srn_digit(c);
}

static const char *srn_domain(const char *p, const char *end, char *why,
			      size_t n)
{
	const char *start = p;
	int labels = 0;

	while (p < end) {
		const char *l = p;

		while (p < end && *p != '.')
			p++;
		if (p - l < 1 || p - l > 63 || l[0] == '-' || p[-1] == '-') {
			snprintf(why, n,
				 "domain label \"%.*s\" is not a DNS "
				 "label (1 to 63 of a-z, 0-9, -; no "
				 "leading or trailing -)",
				 (int)(p - l), l);
			return NULL;
		}
		for (; l < p; l++)
			if (!srn_lower_alnum(*l) && *l != '-') {
				snprintf(why, n,
					 "domain has '%c': use "
					 "lower-case a-z, 0-9, - and .",
					 *l);
				return NULL;
			}
		labels++;
		if (p < end)
			p++;
	}
	if (labels < 2 || end - start > 253 || end[-1] == '.') {
		snprintf(why, n,
			 "domain \"%.*s\" is not a DNS name like "
			 "example.org",
			 (int)(end - start), start);
		return NULL;
	}
	return end;
}

static int srn_version(const char *v, char *why, size_t n)
{
	const char *p = v;
	int parts = 0;

	if (!*v)
		goto bad;
	/* A positive integer... */
	while (srn_digit(*p))
		p++;
	if (!*p) {
		if (v[0] == '0')
			goto bad;
		return 0;
	}
	/* ...or MAJOR.MINOR.PATCH[-pre][+build]. */
	for (p = v, parts = 0; parts < 3; parts++) {
		const char *s = p;

		while (srn_digit(*p))
			p++;
		if (p == s || (p - s > 1 && *s == '0'))
			goto bad;
		if (parts < 2) {
			if (*p != '.')
				goto bad;
			p++;
		}
	}
	if (*p == '-' || *p == '+') {
		for (p++; *p; p++)
			if (!srn_lower_alnum(*p) && !(*p >= 'A' && *p <= 'Z') &&
			    *p != '.' && *p != '-' && *p != '+')
				goto bad;
		return p[-1] == '-' || p[-1] == '+' ? -1 : 0;
	}
	if (*p)
		goto bad;
	return 0;
bad:
	snprintf(why, n,
		 "version \"%s\" is neither a positive integer nor a "
		 "semver like 1.2.3",
		 v);
	return -1;
}

int osai_srn_check(const char *srn, int any, char *why, size_t n)
{
	static const char *const types[] = { "rec",  "dep", "schema", "vocab",
					     "snap", "evt", "val",    NULL };
	size_t len = strlen(srn), i;
	const char *p, *dom, *type, *id, *at;

	if (len == 0 || len > 512) {
		snprintf(why, n, "an srn has 1 to 512 bytes, this one %zu",
			 len);
		return -1;
	}
	if (any) {
		for (i = 0; i < len; i++) {
			unsigned char c = (unsigned char)srn[i];

			if (c < 0x20 || c == 0x7f) {
				snprintf(why, n,
					 "control character 0x%02x at "
					 "byte %zu",
					 c, i);
				return -1;
			}
		}
		return 0; /* UTF-8 validity is checked with the document */
	}
	if (strncmp(srn, "urn:osa:", 8)) {
		snprintf(why, n,
			 "expected urn:osa:<domain>:<type>:<id>"
			 "[@<version>]");
		return -1;
	}
	dom = srn + 8;
	p = strchr(dom, ':');
	if (!p) {
		snprintf(why, n, "missing :<type>:<id> after the domain");
		return -1;
	}
	if (!srn_domain(dom, p, why, n))
		return -1;
	type = p + 1;
	p = strchr(type, ':');
	if (!p) {
		snprintf(why, n, "missing :<id> after the type");
		return -1;
	}
	for (i = 0; types[i]; i++)
		if ((size_t)(p - type) == strlen(types[i]) &&
		    !strncmp(type, types[i], (size_t)(p - type)))
			break;
	if (!types[i]) {
		snprintf(why, n,
			 "type \"%.*s\" is not one of rec, dep, schema, "
			 "vocab, snap, evt, val",
			 (int)(p - type), type);
		return -1;
	}
	id = p + 1;
	at = strchr(id, '@');
	p = at ? at : srn + len;
	if (p - id < 3 || p - id > 64) {
		snprintf(why, n,
			 "local id \"%.*s\" must have 3 to 64 of a-z, "
			 "0-9 and -",
			 (int)(p - id), id);
		return -1;
	}
	for (; id < p; id++)
		if (!srn_lower_alnum(*id) && *id != '-') {
			snprintf(why, n,
				 "local id has '%c': use a-z, 0-9 and -", *id);
			return -1;
		}
	if (at && srn_version(at + 1, why, n))
		return -1;
	return 0;
}
