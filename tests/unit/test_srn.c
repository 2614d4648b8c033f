/* SPDX-License-Identifier: MIT */
/* test_srn.c - the srn grammar, OSA form and the opaque "any" form. */
#include "osa_test.h"
#include "srn.h"

static void ok(const char *s, int any)
{
	char why[256] = "";

	OSA_CHECK_MSG(osai_srn_check(s, any, why, sizeof(why)) == 0, "%s: %s",
		      s, why);
}

static void bad(const char *s, int any, const char *reason)
{
	char why[256] = "";

	OSA_CHECK_MSG(osai_srn_check(s, any, why, sizeof(why)) != 0,
		      "%s accepted", s);
	OSA_CHECK_CONTAINS(why, reason);
}

int main(void)
{
	char long_id[80], big[600];

	ok("urn:osa:example.org:rec:abc", 0);
	ok("urn:osa:data.example.org:dep:a-b-c-123@7", 0);
	ok("urn:osa:x.io:schema:abc@1.2.3", 0);
	ok("urn:osa:x.io:vocab:abc@1.0.0-rc.1+build.5", 0);
	for (const char *t = "rec dep schema vocab snap evt val"; *t;) {
		char s[64];
		int n = 0;

		while (t[n] && t[n] != ' ')
			n++;
		snprintf(s, sizeof(s), "urn:osa:a.org:%.*s:xyz", n, t);
		ok(s, 0);
		t += n + (t[n] == ' ');
	}
	bad("urn:osa:example.org:rec:ab", 0, "3 to 64");
	bad("urn:osa:example.org:doc:abc", 0, "type \"doc\"");
	bad("urn:osa:example:rec:abc", 0, "not a DNS name");
	bad("urn:osa:Example.org:rec:abc", 0, "domain has 'E'");
	bad("urn:osa:-a.org:rec:abc", 0, "DNS label");
	bad("urn:osa:a.org:rec:ABC", 0, "local id has 'A'");
	bad("urn:osa:a.org:rec:abc@0", 0, "version \"0\"");
	bad("urn:osa:a.org:rec:abc@1.2", 0, "semver");
	bad("urn:osa:a.org:rec:abc@01.2.3", 0, "semver");
	bad("urn:osa:a.org:rec:abc@", 0, "version");
	bad("urn:osa:a.org:rec", 0, "missing :<id>");
	bad("doi:10.1000/182", 0, "expected urn:osa:");
	bad("", 0, "1 to 512");
	memset(long_id, 'a', 65);
	snprintf(long_id + 65, 15, "%s", "");
	{
		char s[128];

		snprintf(s, sizeof(s), "urn:osa:a.org:rec:%s", long_id);
		bad(s, 0, "3 to 64");
	}
	ok("doi:10.1000/182", 1);
	ok("any thing — with UTF-8 ✓", 1);
	bad("tab\there", 1, "control character 0x09");
	memset(big, 'x', 513);
	big[513] = '\0';
	bad(big, 1, "1 to 512");
	big[512] = '\0';
	ok(big, 1);
	OSA_TEST_END();
}
