/*
 * tests/clamd_client.c: a minimal clamd-protocol client for the tests.
 *
 *   clamd-client ADDR ping|version|shutdown       z-form command, prints reply
 *   clamd-client ADDR raw                          sends stdin as is, prints reply
 *   clamd-client ADDR instream FILE [CHUNK]        zINSTREAM FILE in CHUNK-byte chunks
 *   clamd-client ADDR load-unique SECONDS CLIENTS FILE...  the same, every message
 *                                                  made unique by a first header line
 *                                                  (as real mail: no cache answers it)
 *   clamd-client ADDR load SECONDS CLIENTS FILE... INSTREAM each file in turn from
 *                                                  CLIENTS threads; prints counts
 *                                                  (ok, errors: "... ERROR" replies,
 *                                                  wrong: another verdict, failed: no
 *                                                  reply), req/s, latency percentiles
 * ADDR is unix:/path or tcp:HOST:PORT. Replies are printed raw, terminator
 * included. load exits non-zero on any wrong or failed request.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../platform/plat.h"

static const char *addr;

static int dial(void)
{
	int fd;

	if (strncmp(addr, "unix:", 5) == 0) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", addr + 5);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			return -1;
		return fd;
	}
	if (strncmp(addr, "tcp:", 4) == 0) {
		char host[64];
		const char *c = strrchr(addr + 4, ':');
		struct sockaddr_in sa = { .sin_family = AF_INET };
		struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6 };
		snprintf(host, sizeof(host), "%.*s", (int)(c - addr - 4), addr + 4);
		if (host[0] == '[') {  /* tcp:[::1]:3310 */
			memmove(host, host + 1, strlen(host));
			host[strcspn(host, "]")] = '\0';
			sa6.sin6_port = htons((uint16_t)atoi(c + 1));
			if (inet_pton(AF_INET6, host, &sa6.sin6_addr) != 1)
				return -1;
			fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (fd < 0 || connect(fd, (struct sockaddr *)&sa6, sizeof(sa6)) < 0)
				return -1;
			return fd;
		}
		sa.sin_port = htons((uint16_t)atoi(c + 1));
		if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
			return -1;
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			return -1;
		return fd;
	}
	return -1;
}

static ssize_t read_reply(int fd, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len && (n = read(fd, buf + got, len - got)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECONNRESET)
				break;
			return -1;
		}
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static int instream(const unsigned char *data, size_t len, size_t chunk, char *reply, size_t rlen)
{
	int fd = dial();
	ssize_t n;

	if (fd < 0)
		return -1;
	if (plat_write_all(fd, "zINSTREAM", 10) < 0)
		goto fail;
	for (size_t off = 0; off < len; off += chunk) {
		size_t k = len - off < chunk ? len - off : chunk;
		uint32_t be = htonl((uint32_t)k);
		/* A server may answer early (size limit): stop sending, read it. */
		if (plat_write_all(fd, &be, 4) < 0 || plat_write_all(fd, data + off, k) < 0)
			goto answer;
	}
	(void)plat_write_all(fd, "\0\0\0\0", 4);
answer:
	n = read_reply(fd, reply, rlen - 1);
	close(fd);
	if (n < 0)
		return -1;
	reply[n] = '\0';
	return (int)n;
fail:
	close(fd);
	return -1;
}


static unsigned char *slurp(const char *path, size_t *len)
{
	struct stat st;
	unsigned char *p;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0) {
		perror(path);
		exit(2);
	}
	p = malloc((size_t)st.st_size + 1);
	if (p == NULL || plat_read_full(fd, p, (size_t)st.st_size) != st.st_size) {
		perror(path);
		exit(2);
	}
	close(fd);
	*len = (size_t)st.st_size;
	return p;
}

/* ---- load mode ---- */

struct sample {
	unsigned char *data;
	size_t len;
	char expect[512];
};

static struct sample *samples;
static size_t nsamples;
static int unique;
static double deadline;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t ok, wrong, failed, errors;
static double *lat;
static size_t nlat, caplat;

static double now_s(void)
{
	return (double)plat_now_ns() / 1e9;
}

/* This run's own mark: a later run against the same daemon (the bench's
 * second round) must not send a message the first one sent, or a verdict
 * cache answers it. */
static unsigned long long run_mark;

/* "X-Bench-Unique: <run>-<thread>-<n>" then the message: unique bytes, the same verdict. */
static size_t make_unique(unsigned char *buf, const struct sample *s, unsigned thread, uint64_t n)
{
	int h = snprintf((char *)buf, 80, "X-Bench-Unique: %llx-%u-%llu\r\n", run_mark, thread, (unsigned long long)n);

	memcpy(buf + h, s->data, s->len);
	return (size_t)h + s->len;
}

static size_t max_len(void)
{
	size_t m = 0;

	for (size_t i = 0; i < nsamples; i++)
		m = samples[i].len > m ? samples[i].len : m;
	return m + 80;
}

static void *loader(void *arg)
{
	size_t i = (size_t)(uintptr_t)arg;
	unsigned thread = (unsigned)i;
	unsigned char *buf = unique ? malloc(max_len()) : NULL;
	uint64_t count = 0;
	char reply[512];

	while (now_s() < deadline) {
		struct sample *s = &samples[i++ % nsamples];
		const unsigned char *data = s->data;
		size_t len = s->len;
		if (unique) {
			len = make_unique(buf, s, thread, ++count);
			data = buf;
		}
		double t0 = now_s();
		int n = instream(data, len, 65536, reply, sizeof(reply));
		double dt = now_s() - t0;
		pthread_mutex_lock(&mu);
		size_t rl = n > 0 ? strlen(reply) : 0;
		if (n <= 0)
			failed++;  /* no reply at all: a lost request */
		else if (strcmp(reply, s->expect) == 0)
			ok++;
		else if (rl > 6 && strcmp(reply + rl - 6, " ERROR") == 0)
			errors++;  /* an honest failure (e.g. its worker was killed) */
		else
			wrong++;   /* a different verdict: never acceptable */
		if (nlat == caplat) {
			caplat = caplat ? caplat * 2 : 4096;
			lat = realloc(lat, caplat * sizeof(*lat));
		}
		lat[nlat++] = dt;
		pthread_mutex_unlock(&mu);
	}
	free(buf);
	return NULL;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int load(int argc, char **argv)
{
	double secs = atof(argv[0]);
	int clients = atoi(argv[1]);
	pthread_t th[64];
	char reply[512];
	double t0;

	nsamples = (size_t)(argc - 2);
	samples = calloc(nsamples, sizeof(*samples));
	for (size_t i = 0; i < nsamples; i++) {
		samples[i].data = slurp(argv[2 + i], &samples[i].len);
	}
	for (size_t i = 0; i < nsamples; i++) {
		unsigned char *buf = malloc(max_len());
		size_t len = unique ? make_unique(buf, &samples[i], 999, i) : samples[i].len;
		if (!unique)
			memcpy(buf, samples[i].data, len);
		/* The first answer is the reference every later one must equal. */
		int rc = instream(buf, len, 65536, reply, sizeof(reply));
		free(buf);
		if (rc < 0) {
			fprintf(stderr, "load: first scan of %s failed\n", argv[2 + i]);
			return 1;
		}
		snprintf(samples[i].expect, sizeof(samples[i].expect), "%s", reply);
	}
	if (clients < 1 || clients > 64)
		return 2;
	t0 = now_s();
	deadline = t0 + secs;
	for (int i = 0; i < clients; i++)
		pthread_create(&th[i], NULL, loader, (void *)(uintptr_t)(i * 7));
	for (int i = 0; i < clients; i++)
		pthread_join(th[i], NULL);
	double el = now_s() - t0;
	qsort(lat, nlat, sizeof(*lat), cmp_d);
	printf("requests=%llu ok=%llu errors=%llu wrong=%llu failed=%llu seconds=%.2f rps=%.1f p50_ms=%.3f p99_ms=%.3f\n",
	    (unsigned long long)nlat, (unsigned long long)ok, (unsigned long long)errors,
	    (unsigned long long)wrong, (unsigned long long)failed, el, (double)nlat / el,
	    nlat ? lat[nlat / 2] * 1e3 : 0.0, nlat ? lat[(size_t)((double)nlat * 0.99)] * 1e3 : 0.0);
	for (size_t i = 0; i < nsamples; i++)
		free(samples[i].data);
	free(samples);
	free(lat);
	return wrong || failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	char reply[8192];
	ssize_t n;
	int fd;

	if (argc < 3) {
		fprintf(stderr, "usage: clamd-client ADDR ping|version|shutdown|raw|instream FILE [CHUNK]|load S N FILE...\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	addr = argv[1];
	if (strcmp(argv[2], "load") == 0 && argc >= 6)
		return load(argc - 3, argv + 3);
	if (strcmp(argv[2], "load-unique") == 0 && argc >= 6) {
		unique = 1;
		run_mark = plat_now_ns() ^ ((unsigned long long)getpid() << 40);
		return load(argc - 3, argv + 3);
	}
	if (strcmp(argv[2], "instream") == 0 && argc >= 4) {
		size_t len, chunk = argc >= 5 ? (size_t)atol(argv[4]) : 8192;
		unsigned char *d = slurp(argv[3], &len);
		int r = instream(d, len, chunk ? chunk : 8192, reply, sizeof(reply));
		free(d);
		if (r < 0) {
			perror("instream");
			return 1;
		}
		fwrite(reply, 1, (size_t)r, stdout);
		return 0;
	}
	fd = dial();
	if (fd < 0) {
		perror(addr);
		return 1;
	}
	if (strcmp(argv[2], "raw") == 0) {
		char in[65536];
		while ((n = read(0, in, sizeof(in))) > 0)
			if (plat_write_all(fd, in, (size_t)n) < 0)
				break;
		shutdown(fd, SHUT_WR);
	} else {
		char cmd[64];
		int k = snprintf(cmd, sizeof(cmd), "z%s", argv[2]);
		for (char *p = cmd + 1; *p; p++)
			if (*p >= 'a' && *p <= 'z')
				*p = (char)(*p - 32);
		if (plat_write_all(fd, cmd, (size_t)k + 1) < 0)
			return 1;
	}
	/* The whole reply, however long, until the daemon closes. */
	while ((n = read_reply(fd, reply, sizeof(reply))) > 0)
		fwrite(reply, 1, (size_t)n, stdout);
	return n < 0 ? 1 : 0;
}
