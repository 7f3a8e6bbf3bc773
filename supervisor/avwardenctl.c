/*
 * supervisor/avwardenctl.c: the operator's console command. Sends one
 * request over avwarden's control socket and prints the reply.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../platform/plat.h"

#define DEFAULT_SOCKET "/run/avwarden/control.sock"

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: avwardenctl [-s SOCKET] [--json] COMMAND\n"
	    "  -s, --socket PATH  control socket (default " DEFAULT_SOCKET ")\n"
	    "  -j, --json         answer as one JSON object\n"
	    "commands:\n"
	    "  ping         is the daemon answering?\n"
	    "  health       can it scan now? (exit 1 while no scanner can serve)\n"
	    "  version      avwarden and engine versions, signatures, database, generation\n"
	    "  stats        scan counters, queue, workers, faults, cache, reloads\n"
	    "  workers      one line per scanner worker: generation, pid, state, jobs, RSS, age\n"
	    "  reload       load the database into a new generation; answers when it serves\n"
	    "               (or why it failed, with the old one still serving)\n"
	    "  reopen-logs  reopen scanner_log (after logrotate moved it)\n"
	    "  shutdown     drain and stop the daemon\n"
	    "exit status: 0 done, 1 failed or daemon unreachable, 2 usage\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = DEFAULT_SOCKET;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char req[128], buf[8192];
	ssize_t n;
	int c, fd, got = 0, json = 0;

	while ((c = getopt_long(argc, argv, "s:jh", longopts, NULL)) != -1) {
		switch (c) {
		case 's': path = optarg; break;
		case 'j': json = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return 2;
	}
	if (strlen(path) >= sizeof(sa.sun_path) || strlen(argv[optind]) > 64 ||
	    strpbrk(argv[optind], " \r\n") != NULL) {
		fprintf(stderr, "avwardenctl: socket path too long, or not a command: %.64s\n", argv[optind]);
		return 2;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = errno;
		fprintf(stderr, "avwardenctl: cannot connect to %s: %s%s\n", path, strerror(err),
		    err == ENOENT || err == ECONNREFUSED ? " (is avwarden running? is this its control_socket?)" :
		    err == EACCES ? " (the control socket is mode 0600: run as the user avwarden runs as)" : "");
		return 1;
	}
	snprintf(req, sizeof(req), "%s%s\n", argv[optind], json ? " json" : "");
	if (plat_write_all(fd, req, strlen(req)) < 0) {
		fprintf(stderr, "avwardenctl: write to %s: %s\n", path, strerror(errno));
		return 1;
	}
	while ((n = PLAT_RETRY(read(fd, buf, sizeof(buf)))) > 0) {
		fwrite(buf, 1, (size_t)n, stdout);
		if (!got && (strncmp(buf, "error:", 6) == 0 || strncmp(buf, "{\"error\"", 9) == 0))
			got = -1;
		else if (!got)
			got = 1;
	}
	close(fd);
	if (got == 0) {
		fprintf(stderr, "avwardenctl: no reply from %s\n", path);
		return 1;
	}
	return got < 0 ? 1 : 0;
}
