/* SPDX-License-Identifier: MIT */
/*
 * nng_client.c - talking to `osa serve` over its nng REQ/REP socket from C,
 * the way a peer on the same device would (`osa call` does the same).
 *
 *   nng_client URL INDEX QUERY      e.g. nng_client ipc:///tmp/osa.sock papers
 * "sea ice"
 *
 * Sends {"op":"search","index":INDEX,"q":QUERY,"limit":5} and prints the
 * reply; exits 0 when its "status" is 200.
 */
#include <jansson.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	nng_socket sock;
	json_t *req, *rep;
	char *msg, *buf = NULL;
	size_t len = 0;
	int rv, status = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: %s URL INDEX QUERY\n", argv[0]);
		return 64;
	}
	req = json_pack("{s:s, s:s, s:s, s:i}", "op", "search", "index",
			argv[2], "q", argv[3], "limit", 5);
	msg = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!msg)
		return 1;
	if ((rv = nng_req0_open(&sock)) ||
	    (rv = nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, 10000)) ||
	    (rv = nng_dial(sock, argv[1], NULL, 0)) ||
	    (rv = nng_send(sock, msg, strlen(msg), 0)) ||
	    (rv = nng_recv(sock, &buf, &len, NNG_FLAG_ALLOC))) {
		fprintf(stderr, "%s: %s\n", argv[1], nng_strerror(rv));
		free(msg);
		return 69;
	}
	printf("%.*s\n", (int)len, buf);
	rep = json_loadb(buf, len, 0, NULL);
	status = (int)json_integer_value(json_object_get(rep, "status"));
	json_decref(rep);
	nng_free(buf, len);
	free(msg);
	nng_close(sock);
	return status == 200 ? 0 : 1;
}
