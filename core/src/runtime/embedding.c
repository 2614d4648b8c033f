/* SPDX-License-Identifier: MIT */
/*
 * embedding.c - what embedders share: the `embedding` configuration group
 * (osa_embedding_schema), embedder instances (osa_embedder_create and the
 * osa_embed_*() wrappers) and the text a record is embedded from
 * (osa_embedding_text).
 *
 * The wrappers check their arguments, turn a NULL optional method into
 * OSA_ENOTSUP and fill err->index when the plugin left it empty.  Messages
 * do not name the index themselves: backends prefix "index NAME: ".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osai.h"

struct osa_embedder_inst {
	const struct osa_embedder *e;
	void *self;
	char index[64];
};

/* ---- the `embedding` group ------------------------------------------- */

static const char *const emb_default_fields[] = { "title", "summary", NULL };

/* "hash, field" (sorted) into buf; "(none)" when nothing is registered. */
static void emb_list(char *buf, size_t n)
{
	size_t i, cnt = osai_embedder_count(), len = 0;

	buf[0] = '\0';
	for (i = 0; i < cnt && len + 1 < n; i++) {
		int w = snprintf(buf + len, n - len, "%s%s", i ? ", " : "",
				 osai_embedder_at(i)->name);

		if (w < 0)
			break;
		len += (size_t)w;
	}
	if (!cnt)
		snprintf(buf, n, "(none)");
}

/* An unknown embedder name, in a check or at create. */
static void emb_unknown(const char *name, char *buf, size_t n)
{
	const struct osai_absent *a = osai_absent_find("embedder", name);
	const char *names[64], *sug;
	char list[256];
	size_t cnt = osai_embedder_count(), i;

	if (a) {
		snprintf(buf, n,
			 "embedder \"%s\" (found in %s) is not built in: "
			 "enable %s (make menuconfig) and rebuild",
			 name, a->where[0] ? a->where : "this build's Kconfig",
			 a->symbol);
		return;
	}
	if (cnt > 64)
		cnt = 64;
	for (i = 0; i < cnt; i++)
		names[i] = osai_embedder_at(i)->name;
	sug = osai_suggest(name, names, cnt);
	emb_list(list, sizeof(list));
	if (sug)
		snprintf(buf, n,
			 "unknown embedder \"%s\" (did you mean \"%s\"?); "
			 "available: %s",
			 name, sug, list);
	else
		snprintf(buf, n, "unknown embedder \"%s\"; available: %s", name,
			 list);
}

/*
 * Check that `tmpl` is a valid template: braces balanced ({{ and }} are
 * literal), no empty placeholder.  0, or a message in buf.
 */
static int emb_template_check(const char *tmpl, char *buf, size_t n)
{
	const char *p = tmpl;

	while (*p) {
		const char *end;

		if (*p != '{' && *p != '}') {
			p++;
			continue;
		}
		if (p[1] == *p) {
			p += 2;
			continue;
		}
		if (*p == '}') {
			snprintf(buf, n,
				 "a single '}' at byte %zu (write '}}' for a "
				 "literal brace)",
				 (size_t)(p - tmpl));
			return -1;
		}
		end = p + 1 + strcspn(p + 1, "{}");
		if (*end != '}') {
			snprintf(buf, n,
				 "the '{' at byte %zu is not closed by '}' "
				 "(write '{{' for a literal brace)",
				 (size_t)(p - tmpl));
			return -1;
		}
		if (end == p + 1) {
			snprintf(buf, n,
				 "empty placeholder '{}' at byte %zu (name a "
				 "record member: {title})",
				 (size_t)(p - tmpl));
			return -1;
		}
		p = end + 1;
	}
	return 0;
}

static void emb_check(void *cfg, struct osa_check *chk)
{
	const struct osa_embedding_config *c = cfg;
	const struct osa_embedder *e;
	char msg[512];
	size_t i;

	if (!c->embedder || !c->embedder[0]) {
		emb_list(msg, sizeof(msg));
		osa_check_error(chk, "embedder",
				"name an embedder; available: %s", msg);
	} else if (!(e = osa_embedder_find(c->embedder))) {
		emb_unknown(c->embedder, msg, sizeof(msg));
		osa_check_error(chk, "embedder", "%s", msg);
	} else if (e->embed_text && c->fields.n == 0 &&
		   (!c->template_ || !c->template_[0])) {
		/* A text embedder with no text to embed. */
		osa_check_error(chk, "fields",
				"nothing to embed: set embedding.fields or "
				"embedding.template");
	}
	for (i = 0; i < c->fields.n; i++)
		if (!c->fields.v[i] || !c->fields.v[i][0])
			osa_check_error(chk, "fields",
					"element %zu is empty: name a record "
					"member",
					i);
	if (c->template_ && emb_template_check(c->template_, msg, sizeof(msg)))
		osa_check_error(chk, "template", "%s", msg);
	if (c->vector_field && !c->vector_field[0])
		osa_check_error(chk, "vector_field",
				"is empty: name the record member that holds "
				"the vector (e.g. \"embedding\")");
}

static const struct osa_field emb_fields[] = {
	{ .name = "embedder",
	  .type = OSA_T_STRING,
	  .offset = offsetof(struct osa_embedding_config, embedder),
	  .flags = OSA_F_STORED,
	  .def_str = "hash",
	  .min = 1,
	  .max = 63,
	  .doc = "The embedder that turns records and query texts into "
		 "vectors: \"hash\" (feature hashing of words and character "
		 "n-grams, no model files) or \"field\" (each record brings "
		 "its "
		 "vector in `vector_field`; queries must bring a vector)." },
	{ .name = "fields",
	  .type = OSA_T_STRLIST,
	  .offset = offsetof(struct osa_embedding_config, fields),
	  .flags = OSA_F_STORED,
	  .def_list = emb_default_fields,
	  .min = 0,
	  .max = 64,
	  .doc = "Record members whose values (strings; numbers as text) "
		 "are joined with \". \" into the text to embed, when no "
		 "template is set." },
	{ .name = "template",
	  .type = OSA_T_STRING,
	  .offset = offsetof(struct osa_embedding_config, template_),
	  .flags = OSA_F_STORED,
	  .def_str = NULL,
	  .doc = "The text to embed, with {member} placeholders (\"{title}. "
		 "{summary}\"); {{ and }} are literal braces, missing members "
		 "give nothing.  Overrides `fields`." },
	{ .name = "vector_field",
	  .type = OSA_T_STRING,
	  .offset = offsetof(struct osa_embedding_config, vector_field),
	  .flags = OSA_F_STORED,
	  .def_str = "embedding",
	  .doc = "For the \"field\" embedder: the record member holding an "
		 "array of `dim` numbers." },
	OSA_FIELD_END
};

const struct osa_schema osa_embedding_schema = {
	.name = "embedding",
	.size = sizeof(struct osa_embedding_config),
	.fields = emb_fields,
	.check = emb_check,
};

/* ---- instances -------------------------------------------------------- */

/* Record the index in err->index when the plugin left it empty. */
static int emb_fail(const struct osa_embedder_inst *e, int rc,
		    struct osa_error *err)
{
	if (err) {
		if (!err->code)
			err->code = rc;
		if (!err->msg[0])
			snprintf(err->msg, sizeof(err->msg),
				 "embedder \"%s\" failed: %s", e->e->name,
				 osa_strerror(rc));
		if (!err->index[0])
			snprintf(err->index, sizeof(err->index), "%s",
				 e->index);
	}
	return rc;
}

int osa_embedder_create(const struct osa_embedder_args *args,
			struct osa_embedder_inst **out, struct osa_error *err)
{
	const struct osa_embedder *e;
	struct osa_embedder_inst *inst;
	const char *name;
	char msg[512];
	int rc;

	if (!out)
		return osa_error_set(err, OSA_EINVAL, "embedder: no output");
	*out = NULL;
	if (!args || !args->cfg)
		return osa_error_set(err, OSA_EINVAL,
				     "embedder: no configuration");
	if (args->dim < 1)
		return osa_error_set(err, OSA_EINVAL,
				     "embedder: dim must be at least 1, got %d",
				     args->dim);
	name = args->cfg->embedder ? args->cfg->embedder : "hash";
	e = osa_embedder_find(name);
	if (!e) {
		emb_unknown(name, msg, sizeof(msg));
		return osa_error_set(err, OSA_ENOTFOUND, "%s", msg);
	}
	inst = calloc(1, sizeof(*inst));
	if (!inst)
		return osa_error_set(err, OSA_ENOMEM,
				     "embedder \"%s\": out of memory", name);
	inst->e = e;
	snprintf(inst->index, sizeof(inst->index), "%s",
		 args->index ? args->index : "");
	if (err)
		osa_error_clear(err);
	rc = e->create(args, &inst->self, err);
	if (rc) {
		emb_fail(inst, rc, err);
		free(inst);
		return rc;
	}
	*out = inst;
	return 0;
}

void osa_embedder_destroy(struct osa_embedder_inst *e)
{
	if (!e)
		return;
	e->e->destroy(e->self);
	free(e);
}

int osa_embed_record(struct osa_embedder_inst *e, const struct osa_record *rec,
		     float *out, struct osa_error *err)
{
	int rc;

	if (!e || !rec || !out)
		return osa_error_set(err, OSA_EINVAL,
				     "embed: no embedder, record or output");
	rc = e->e->embed_record(e->self, rec, out, err);
	return rc ? emb_fail(e, rc, err) : 0;
}

int osa_embed_text(struct osa_embedder_inst *e, const char *text, size_t len,
		   float *out, struct osa_error *err)
{
	int rc;

	if (!e || !out || (!text && len))
		return osa_error_set(err, OSA_EINVAL,
				     "embed: no embedder, text or output");
	if (!e->e->embed_text) {
		osa_error_set(err, OSA_ENOTSUP,
			      "embedder \"%s\" cannot embed text; send a "
			      "vector query",
			      e->e->name);
		return emb_fail(e, OSA_ENOTSUP, err);
	}
	rc = e->e->embed_text(e->self, text ? text : "", len, out, err);
	return rc ? emb_fail(e, rc, err) : 0;
}

void osa_embed_describe(struct osa_embedder_inst *e, char *buf, size_t n)
{
	if (!buf || !n)
		return;
	buf[0] = '\0';
	if (e)
		e->e->describe(e->self, buf, n);
	buf[n - 1] = '\0';
}

const char *osa_embed_name(const struct osa_embedder_inst *e)
{
	return e ? e->e->name : "";
}

/* ---- the text of a record --------------------------------------------- */

/* A number as text: integral values without a fraction, else shortest. */
static int emb_number(double d, char *buf, size_t n)
{
	int prec;

	for (prec = 15; prec < 17; prec++) {
		snprintf(buf, n, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	return snprintf(buf, n, "%.*g", prec, d);
}

int osa_embedding_text(const struct osa_embedding_config *cfg,
		       const struct osa_record *rec, char **out, size_t *len,
		       struct osa_error *err)
{
	const char *vals[64];
	size_t lens[64], i, n = 0, total = 1;
	char nums[64][32];
	char *p, *o;

	if (!out)
		return osa_error_set(err, OSA_EINVAL, "embedding: no output");
	*out = NULL;
	if (len)
		*len = 0;
	if (!cfg || !rec)
		return osa_error_set(err, OSA_EINVAL,
				     "embedding: no configuration or record");
	if (cfg->template_ && cfg->template_[0])
		return osa_record_render(rec, cfg->template_, out, len, err);
	for (i = 0; i < cfg->fields.n && n < 64; i++) {
		const char *s;
		size_t sl;
		double d;

		if (!osa_record_string(rec, cfg->fields.v[i], &s, &sl)) {
			if (!sl)
				continue;
		} else if (!osa_record_number(rec, cfg->fields.v[i], &d)) {
			int w = emb_number(d, nums[n], sizeof(nums[n]));

			if (w <= 0 || (size_t)w >= sizeof(nums[n]))
				continue;
			s = nums[n];
			sl = (size_t)w;
		} else {
			continue;
		}
		vals[n] = s;
		lens[n++] = sl;
		if (sl > SIZE_MAX - total - 2)
			return osa_error_set(err, OSA_ENOMEM,
					     "record %s: text too large",
					     osa_record_srn(rec));
		total += sl + 2;
	}
	p = o = malloc(total);
	if (!p)
		return osa_error_set(err, OSA_ENOMEM,
				     "record %s: out of memory building the "
				     "text to embed",
				     osa_record_srn(rec));
	for (i = 0; i < n; i++) {
		if (i) {
			*o++ = '.';
			*o++ = ' ';
		}
		memcpy(o, vals[i], lens[i]);
		o += lens[i];
	}
	*o = '\0';
	*out = p;
	if (len)
		*len = (size_t)(o - p);
	return 0;
}
