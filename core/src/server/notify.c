/* SPDX-License-Identifier: MIT */
/*
 * notify.c - readiness notification for systemd's Type=notify services.
 *
 * The protocol is one datagram of "KEY=VALUE\n" lines to the AF_UNIX socket
 * named by $NOTIFY_SOCKET (a path, or '@' for the abstract namespace);
 * systemd documents it as stable and meant to be implemented without
 * libsystemd (sd_notify(3), "Notes"), which Debian ships only as a shared
 * library and so could not be part of a static binary anyway.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "osai.h"

int osai_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	size_t n;
	ssize_t w;
	int fd;

	if (!path || !*path)
		return 0; /* not started by systemd: nothing to tell */
	n = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || n >= sizeof(sa.sun_path))
		return -EINVAL;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, n);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	w = sendto(fd, state, strlen(state), MSG_NOSIGNAL,
		   (const struct sockaddr *)&sa,
		   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n));
	n = w < 0 ? (size_t)errno : 0;
	close(fd);
	return w < 0 ? -(int)n : 0;
}
