/* SPDX-License-Identifier: MIT */
/*
 * test_field.c - the `field` embedder: the vector comes from the record's
 * vector_field; wrong length, missing member and non-numbers are refused
 * with messages naming the srn, the member and the lengths; text queries
 * are not supported; describe() names the member and dim.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <osa/embedder.h>
#include <osa/record.h>
#include <osa/schema.h>

#include "osa_test.h"

struct emb {
	struct osa_embedding_config *cfg;
	struct osa_embedder_inst *e;
};

static void emb_open(struct emb *m, const char *group, int dim)
{
	struct osa_embedder_args args = { .index = "papers", .dim = dim };
	struct osa_error err = { 0 };
	char *report = NULL;
	void *cfg = NULL;

	if (osa_schema_parse(&osa_embedding_schema, group, &cfg, &report,
			     &err)) {
		fprintf(stderr, "config: %s\n", report ? report : err.msg);
		exit(1);
	}
	free(report);
	m->cfg = cfg;
	args.cfg = m->cfg;
	if (osa_embedder_create(&args, &m->e, &err)) {
		fprintf(stderr, "create: %s\n", err.msg);
		exit(1);
	}
}

static void emb_close(struct emb *m)
{
	osa_embedder_destroy(m->e);
	osa_schema_free(&osa_embedding_schema, m->cfg);
}

static struct osa_record *rec_of(const char *json)
{
	struct osa_record *rec = NULL;
	struct osa_error err = { 0 };

	if (osa_record_parse(json, strlen(json), NULL, &rec, &err)) {
		fprintf(stderr, "record: %s\n", err.msg);
		exit(1);
	}
	return rec;
}

/* Embedding `json` fails with `code`; the message has both needles. */
static void bad(struct emb *m, const char *json, int code, const char *n1,
		const char *n2)
{
	struct osa_record *rec = rec_of(json);
	struct osa_error err = { 0 };
	float v[4];
	int rc = osa_embed_record(m->e, rec, v, &err);

	OSA_CHECK_MSG(rc == code, "%s: got %d (%s)", json, rc, err.msg);
	OSA_CHECK(err.code == code);
	OSA_CHECK_CONTAINS(err.msg, "urn:osa:a.org:rec:r1");
	OSA_CHECK_CONTAINS(err.msg, n1);
	if (n2)
		OSA_CHECK_CONTAINS(err.msg, n2);
	OSA_CHECK_STR(err.index, "papers");
	osa_record_free(rec);
}

int main(void)
{
	struct osa_error err = { 0 };
	struct osa_record *rec;
	struct emb m, custom;
	float v[4] = { 0 };
	char desc[128];

	emb_open(&m, "embedder = \"field\";", 4);
	OSA_CHECK_STR(osa_embed_name(m.e), "field");

	/* The vector is the record's. */
	rec = rec_of("{\"srn\":\"urn:osa:a.org:rec:r1\",\"title\":\"x\","
		     "\"embedding\":[0.5,-1,2e-3,4]}");
	OSA_CHECK_MSG(osa_embed_record(m.e, rec, v, &err) == 0, "%s", err.msg);
	OSA_CHECK(v[0] == 0.5f && v[1] == -1.0f);
	OSA_CHECK(fabsf(v[2] - 2e-3f) < 1e-9f && v[3] == 4.0f);
	osa_record_free(rec);

	/* Wrong length, missing, not numbers. */
	bad(&m, "{\"srn\":\"urn:osa:a.org:rec:r1\",\"embedding\":[1,2,3]}",
	    OSA_ERANGE, "\"embedding\" has 3 numbers", "expected 4");
	bad(&m, "{\"srn\":\"urn:osa:a.org:rec:r1\",\"embedding\":[1,2,3,4,5]}",
	    OSA_ERANGE, "has 5 numbers", "expected 4");
	bad(&m, "{\"srn\":\"urn:osa:a.org:rec:r1\",\"title\":\"x\"}",
	    OSA_ENOTFOUND, "no \"embedding\" member", "4 numbers");
	bad(&m, "{\"srn\":\"urn:osa:a.org:rec:r1\",\"embedding\":null}",
	    OSA_ENOTFOUND, "\"embedding\"", NULL);
	bad(&m,
	    "{\"srn\":\"urn:osa:a.org:rec:r1\",\"embedding\":[1,\"2\",3,4]}",
	    OSA_ETYPE, "\"embedding\"[1] is a string", "expected a number");
	bad(&m, "{\"srn\":\"urn:osa:a.org:rec:r1\",\"embedding\":[1,2,null,4]}",
	    OSA_ETYPE, "\"embedding\"[2] is null", NULL);
	bad(&m, "{\"srn\":\"urn:osa:a.org:rec:r1\",\"embedding\":\"1,2,3,4\"}",
	    OSA_ETYPE, "is a string, expected an array of 4 numbers", NULL);
	bad(&m, "{\"srn\":\"urn:osa:a.org:rec:r1\",\"embedding\":[1,2,3,1e39]}",
	    OSA_ERANGE, "beyond the range of a float", NULL);

	/* Text queries are not supported. */
	OSA_CHECK(osa_embed_text(m.e, "hello", 5, v, &err) == OSA_ENOTSUP);
	OSA_CHECK_STR(err.msg, "embedder \"field\" cannot embed text; send a "
			       "vector query");
	OSA_CHECK_STR(err.index, "papers");

	/* describe() names the member and dim. */
	osa_embed_describe(m.e, desc, sizeof(desc));
	OSA_CHECK_STR(desc, "field v1 vector_field=embedding dim=4");

	/* Another member. */
	emb_open(&custom, "embedder = \"field\"; vector_field = \"vec\";", 2);
	osa_embed_describe(custom.e, desc, sizeof(desc));
	OSA_CHECK_STR(desc, "field v1 vector_field=vec dim=2");
	rec = rec_of("{\"srn\":\"urn:osa:a.org:rec:r2\",\"vec\":[3,4],"
		     "\"embedding\":[1]}");
	OSA_CHECK(osa_embed_record(custom.e, rec, v, &err) == 0);
	OSA_CHECK(v[0] == 3.0f && v[1] == 4.0f);
	osa_record_free(rec);
	emb_close(&custom);

	/* create() needs a member name. */
	{
		struct osa_embedding_config ec = { .embedder =
							   (char *)"field" };
		struct osa_embedder_args args = { "papers", 4, &ec };
		struct osa_embedder_inst *e = NULL;

		OSA_CHECK(osa_embedder_create(&args, &e, &err) == OSA_EINVAL);
		OSA_CHECK(e == NULL);
		OSA_CHECK_CONTAINS(err.msg, "vector_field");
		OSA_CHECK_STR(err.index, "papers");
	}
	emb_close(&m);
	OSA_TEST_END();
}
