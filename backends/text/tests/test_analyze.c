/* SPDX-License-Identifier: MIT */
/*
 * test_analyze.c - the text backend's analysis: NFKC + case folding of
 * non-ASCII letters, word segmentation, Snowball stemming, stopwords (with
 * their positions), token length bounds, invalid UTF-8, and the config
 * checks (language against libstemmer's list, boosts, min/max).
 */
#include <libstemmer.h>
#include <stdlib.h>
#include <string.h>

#include <osa/backend.h>

#include "osa_test.h"
#include "text.h"

/* The tokens of `s` joined by spaces, as "term@pos". */
static char *toks(const char *lang, const char *const *stop, size_t nstop,
		  int minl, int maxl, const char *s, bool stem)
{
	struct text_analysis an;
	struct text_analyzer a;
	struct osa_error err = { 0 };
	static char out[1024];
	size_t i, n = 0;

	OSA_REQUIRE(text_analysis_init(&an, lang, stop, nstop, minl, maxl,
				       &err) == 0);
	OSA_REQUIRE(text_analyzer_init(&a, &an, &err) == 0);
	OSA_REQUIRE(text_analyze(&a, s, strlen(s), stem, 0, NULL, &err) == 0);
	out[0] = '\0';
	for (i = 0; i < a.ntok; i++)
		n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%.*s@%u",
				      i ? " " : "", (int)a.tok[i].len,
				      a.buf + a.tok[i].off, a.tok[i].pos);
	text_analyzer_free(&a);
	text_analysis_free(&an);
	return out;
}

static const char *const none[] = { "none" };
static const char *const dflt[] = { "default" };

static void test_folding(void)
{
	/* Case folding of non-ASCII letters, NFKC (ligature, full width,
	 * composed vs decomposed accents), ß -> ss. */
	OSA_CHECK_STR(toks("none", none, 1, 1, 64,
			   "ÉCOLE Straße ÅNGSTRÖM ΣΟΦΙΑ", false),
		      "école@0 strasse@1 ångström@2 σοφια@3");
	OSA_CHECK_STR(toks("none", none, 1, 1, 64,
			   "\xef\xac\x81le \xef\xbc\xa1\xef\xbc\xa2 "
			   "e\xcc\x81t\xc3\xa9",
			   false),
		      "file@0 ab@1 été@2");
	/* Words by Unicode category: punctuation and symbols separate,
	 * digits and letters of any script stay. */
	OSA_CHECK_STR(toks("none", none, 1, 1, 64,
			   "sea-ice, 2024 (Москва) 東京", false),
		      "sea@0 ice@1 2024@2 москва@3 東京@4");
	/* ASCII goes the fast way with the same result. */
	OSA_CHECK_STR(toks("none", none, 1, 1, 64, "Hello, WORLD 42", false),
		      "hello@0 world@1 42@2");
}

static void test_stemming(void)
{
	OSA_CHECK_STR(toks("english", none, 1, 1, 64,
			   "Running connections generously", true),
		      "run@0 connect@1 generous@2");
	/* Unstemmed for prefix queries. */
	OSA_CHECK_STR(toks("english", none, 1, 1, 64, "Running", false),
		      "running@0");
	OSA_CHECK_STR(toks("german", none, 1, 1, 64, "Häuser", true), "haus@0");
	OSA_CHECK_STR(toks("french", none, 1, 1, 64, "continuellement", true),
		      "continuel@0");
}

static void test_stopwords(void)
{
	static const char *const custom[] = { "Foo", "BAR" };
	static const char *const both[] = { "default", "ice" };

	/* A stopword takes its position but gives no token. */
	OSA_CHECK_STR(
		toks("english", dflt, 1, 1, 64, "The ship of the line", true),
		"ship@1 line@4");
	OSA_CHECK_STR(toks("english", none, 1, 1, 64, "the ship", true),
		      "the@0 ship@1");
	/* A custom list is normalised like the text. */
	OSA_CHECK_STR(toks("none", custom, 2, 1, 64, "foo the bar baz", true),
		      "the@1 baz@3");
	OSA_CHECK_STR(toks("english", both, 2, 1, 64, "the sea ice", true),
		      "sea@1");
	/* French defaults come from the packaged list too. */
	OSA_CHECK_STR(
		toks("french", dflt, 1, 1, 64, "le chat et la souris", true),
		"chat@1 sour@4");
}

static void test_lengths(void)
{
	char lng[80];

	memset(lng, 'x', 70);
	lng[70] = '\0';
	OSA_CHECK_STR(toks("none", none, 1, 3, 64, "a an and", false), "and@2");
	{
		char s[100];

		snprintf(s, sizeof(s), "ok %s end", lng);
		OSA_CHECK_STR(toks("none", none, 1, 1, 64, s, false),
			      "ok@0 end@2");
	}
	/* Lengths count code points, not bytes. */
	OSA_CHECK_STR(toks("none", none, 1, 1, 3, "ééé éééé", false), "ééé@0");
}

static void test_invalid_utf8(void)
{
	struct text_analysis an;
	struct text_analyzer a;
	struct osa_error err = { 0 };
	static const char *const bad[] = { "abc \xff def", "caf\xc3",
					   "\xed\xa0\x80 surrogate",
					   "over\xc0\xaflong" };
	size_t i;

	OSA_REQUIRE(text_analysis_init(&an, "english", dflt, 1, 1, 64, &err) ==
		    0);
	OSA_REQUIRE(text_analyzer_init(&a, &an, &err) == 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&err, 0, sizeof(err));
		OSA_CHECK(text_analyze(&a, bad[i], strlen(bad[i]), true, 0,
				       NULL, &err) == OSA_EINVAL);
		OSA_CHECK_CONTAINS(err.msg, "invalid UTF-8");
	}
	memset(&err, 0, sizeof(err));
	text_analyze(&a, bad[0], strlen(bad[0]), true, 0, NULL, &err);
	OSA_CHECK_CONTAINS(err.msg, "byte 4");
	text_analyzer_free(&a);
	text_analysis_free(&an);
}

static void test_languages(void)
{
	const struct osa_backend *b = osa_backend_find("text");
	const struct osa_field *f;
	const char **l;
	struct osa_error err = { 0 };
	void *cfg = NULL;
	char *report = NULL;

	OSA_REQUIRE(b);
	for (f = b->schema->fields; f->name && strcmp(f->name, "language"); f++)
		;
	OSA_REQUIRE(f->name);
	/* Every algorithm libstemmer ships is accepted and documented. */
	for (l = sb_stemmer_list(); *l; l++) {
		char text[128];
		char quoted[64];

		OSA_CHECK_MSG(text_language_known(*l), "%s", *l);
		snprintf(quoted, sizeof(quoted), "%s", *l);
		OSA_CHECK_CONTAINS(f->doc, quoted);
		snprintf(text, sizeof(text), "language = \"%s\";", *l);
		OSA_CHECK_MSG(osa_schema_parse(b->schema, text, &cfg, NULL,
					       &err) == 0,
			      "%s: %s", *l, err.msg);
		osa_schema_free(b->schema, cfg);
		cfg = NULL;
	}
	OSA_CHECK(text_language_known("none"));
	OSA_CHECK(!text_language_known("klingon"));
	/* Errors: all at once, naming the key. */
	OSA_CHECK(osa_schema_parse(b->schema,
				   "language = \"klingon\";\n"
				   "fields = [\"title^0\", \"summary^x\"];\n"
				   "min_token = 9; max_token = 3;",
				   &cfg, &report, &err) == OSA_ECONFIG);
	OSA_CHECK_CONTAINS(report, "language: \"klingon\" is not a Snowball "
				   "stemmer; choose one of: ");
	OSA_CHECK_CONTAINS(report, "english");
	OSA_CHECK_CONTAINS(report, "\"title^0\" is not a field name");
	OSA_CHECK_CONTAINS(report, "\"summary^x\" is not a field name");
	OSA_CHECK_CONTAINS(report, "min_token (9) is larger than max_token");
	free(report);
	report = NULL;
	OSA_CHECK(osa_schema_parse(b->schema,
				   "stopwords = [\"none\", \"the\"];", &cfg,
				   &report, &err) == OSA_ECONFIG);
	OSA_CHECK_CONTAINS(report, "\"none\" must be alone");
	free(report);
	OSA_CHECK(osa_schema_parse(b->schema, "fields = [\"title^2.5\"];", &cfg,
				   NULL, &err) == 0);
	osa_schema_free(b->schema, cfg);
}

int main(void)
{
	test_folding();
	test_stemming();
	test_stopwords();
	test_lengths();
	test_invalid_utf8();
	test_languages();
	OSA_TEST_END();
}
