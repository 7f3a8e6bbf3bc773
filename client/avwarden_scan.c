/*
 * client/avwarden_scan.c: avwarden-scan, the operator's command line on
 * libavwarden (linked statically).
 *
 *   avwarden-scan [-a ADDRESS] [-t SECONDS] [--wire] [-q] FILE...
 *
 * One line per file, "FILE: STATUS INFO (ENGINE, code N)", INFO "-" when
 * there is none; "-" as FILE scans standard input. Exit status: 0 every file
 * clean, 1 something infected or unscannable, 2 any error (it wins: a run
 * with an error did not check everything) or a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avwarden.h"

#define DEFAULT_ADDRESS "unix:/run/avwarden/clamd.sock"

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: avwarden-scan [-a ADDRESS] [-t SECONDS] [--wire] [-q] FILE...\n"
	    "  -a, --address ADDRESS  the daemon: unix:/path, tcp:IPv4:PORT or tcp:[IPv6]:PORT\n"
	    "                         (default " DEFAULT_ADDRESS ")\n"
	    "  -t, --timeout SECONDS  give up on a file after this long (default %u)\n"
	    "      --wire             the files are in SMTP wire form (dot-stuffed, CRLF)\n"
	    "  -q, --quiet            print nothing for clean files\n"
	    "  -V, --version          print the version and exit\n"
	    "FILE \"-\" is standard input. Prints \"FILE: STATUS INFO (ENGINE, code N)\".\n"
	    "Exit status: 0 all clean, 1 infected or unscannable found, 2 an error.\n",
	    AVW_TIMEOUT_DEFAULT_MS / 1000);
}

/* Seconds, decimals allowed, to milliseconds; 0 if not a sane timeout. */
static unsigned parse_seconds(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end != '\0' || !(v >= 0.001) || v > 86400.0)
		return 0;
	return (unsigned)(v * 1000.0 + 0.5);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "address", required_argument, NULL, 'a' },
		{ "timeout", required_argument, NULL, 't' },
		{ "wire", no_argument, NULL, 'w' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *address = DEFAULT_ADDRESS;
	unsigned timeout_ms = 0;
	int wire = 0, quiet = 0, ch, worst = 0;
	struct avw_client *c;

	while ((ch = getopt_long(argc, argv, "a:t:qhV", opts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			address = optarg;
			break;
		case 't':
			if ((timeout_ms = parse_seconds(optarg)) == 0) {
				fprintf(stderr, "avwarden-scan: -t %s: expected seconds, e.g. 30 or 0.5\n", optarg);
				return 2;
			}
			break;
		case 'w':
			wire = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("avwarden-scan %s\n", AVW_LIB_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	c = avw_client_new(address, timeout_ms);
	if (c == NULL) {
		if (errno == ENOMEM)
			perror("avwarden-scan");
		else
			fprintf(stderr, "avwarden-scan: -a %s: expected unix:/path, tcp:IPv4:PORT or tcp:[IPv6]:PORT\n",
			    address);
		return 2;
	}
	avw_client_set_wire(c, wire);
	for (int i = optind; i < argc; i++) {
		struct avw_result r;
		enum avw_status st;
		int level;

		if (strcmp(argv[i], "-") == 0)
			st = avw_scan_fd(c, 0, &r);
		else
			st = avw_scan_path(c, argv[i], &r);
		level = st == AVW_CLEAN ? 0 : st == AVW_ERROR ? 2 : 1;
		if (level > worst)
			worst = level;
		if (quiet && st == AVW_CLEAN)
			continue;
		printf("%s: %s %s (%s, code %d)\n", argv[i], avw_status_name(st), r.info[0] ? r.info : "-",
		    r.engine, r.code);
	}
	avw_client_free(c);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("avwarden-scan: stdout");
		return 2;
	}
	return worst;
}
