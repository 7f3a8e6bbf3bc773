/*
 * tests/client_demo.c: a program built the way an MTA would use libavwarden:
 * only <avwarden.h>, linked against the shared library (-lavwarden), run
 * with LD_LIBRARY_PATH. tests/client.sh drives every entry point with it.
 *
 *   client-demo ADDRESS MODE [FILE] [wire] [timeout=MS]
 *     MODE buffer  the file read into memory, avw_scan_buffer
 *          fd      the file opened, avw_scan_fd
 *          fd+N    the same after lseek(fd, N): scanning starts at the offset
 *          pipe    the file written into a pipe by a child, avw_scan_fd on it
 *          path    avw_scan_path
 *          null    NULL client and NULL arguments (no FILE)
 *          threads 4 threads with a handle each, 25 scans each of FILE
 *                  (expected INFECTED) and of FILE2 (expected CLEAN)
 * Prints "STATUS|CODE|ENGINE|INFO" and exits 0; 3 if the returned status and
 * the result disagree or a result is not terminated; 2 on usage errors.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <avwarden.h>

static const char *addr;
static unsigned timeout_ms;
static int wire;

static int print(enum avw_status st, const struct avw_result *r)
{
	if (st != r->status || memchr(r->info, '\0', sizeof(r->info)) == NULL ||
	    memchr(r->engine, '\0', sizeof(r->engine)) == NULL) {
		printf("MISMATCH returned %d result %d\n", (int)st, (int)r->status);
		return 3;
	}
	printf("%s|%d|%s|%s\n", avw_status_name(st), r->code, r->engine, r->info);
	return 0;
}

static unsigned char *slurp(const char *path, size_t *len)
{
	struct stat st;
	unsigned char *p;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) < 0) {
		perror(path);
		exit(2);
	}
	p = malloc((size_t)st.st_size + 1);
	if (p == NULL || read(fd, p, (size_t)st.st_size) != st.st_size) {
		perror(path);
		exit(2);
	}
	close(fd);
	*len = (size_t)st.st_size;
	return p;
}

static struct avw_client *client(void)
{
	struct avw_client *c = avw_client_new(addr, timeout_ms);

	if (c == NULL) {
		perror(addr);
		exit(2);
	}
	avw_client_set_wire(c, wire);
	return c;
}

struct job {
	const unsigned char *bad, *good;
	size_t badlen, goodlen;
	int wrong;
};

static void *worker(void *arg)
{
	struct job *j = arg;
	struct avw_client *c = client();

	for (int i = 0; i < 25; i++) {
		struct avw_result r;
		if (avw_scan_buffer(c, j->bad, j->badlen, &r) != AVW_INFECTED)
			j->wrong++;
		if (avw_scan_buffer(c, j->good, j->goodlen, &r) != AVW_CLEAN)
			j->wrong++;
	}
	avw_client_free(c);
	return NULL;
}

static int threads(const char *bad, const char *good)
{
	struct job j[4];
	pthread_t th[4];
	size_t bl, gl;
	unsigned char *b = slurp(bad, &bl), *g = slurp(good, &gl);
	int wrong = 0;

	for (int i = 0; i < 4; i++) {
		j[i] = (struct job){ .bad = b, .good = g, .badlen = bl, .goodlen = gl };
		pthread_create(&th[i], NULL, worker, &j[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		wrong += j[i].wrong;
	}
	free(b);
	free(g);
	printf("threads: 200 scans, %d wrong\n", wrong);
	return wrong ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct avw_result r;
	struct avw_client *c;
	const char *mode, *file = NULL;
	enum avw_status st;
	int rc, ai = 3;

	if (argc < 3) {
		fprintf(stderr, "usage: client-demo ADDRESS MODE [FILE] [wire] [timeout=MS]\n");
		return 2;
	}
	addr = argv[1];
	mode = argv[2];
	if (argc > 3 && strcmp(argv[3], "wire") != 0 && strncmp(argv[3], "timeout=", 8) != 0)
		file = argv[ai++];
	if (strcmp(mode, "threads") == 0 && argc > ai)
		return threads(file, argv[ai]);
	for (; ai < argc; ai++) {
		if (strcmp(argv[ai], "wire") == 0)
			wire = 1;
		else if (strncmp(argv[ai], "timeout=", 8) == 0)
			timeout_ms = (unsigned)atoi(argv[ai] + 8);
	}

	if (strcmp(mode, "null") == 0) {
		c = client();
		rc = print(avw_scan_buffer(NULL, "x", 1, &r), &r);
		rc |= print(avw_scan_buffer(c, NULL, 1, &r), &r);
		rc |= print(avw_scan_path(c, NULL, &r), &r);
		rc |= print(avw_scan_fd(c, -1, &r), &r);
		printf("no result: %s\n", avw_status_name(avw_scan_buffer(NULL, "x", 1, NULL)));
		printf("status name of 0: %s\n", avw_status_name((enum avw_status)0));
		avw_client_free(c);
		avw_client_free(NULL);
		return rc;
	}
	if (file == NULL) {
		fprintf(stderr, "client-demo: %s needs a FILE\n", mode);
		return 2;
	}
	c = client();
	if (strcmp(mode, "buffer") == 0) {
		size_t len;
		unsigned char *d = slurp(file, &len);
		st = avw_scan_buffer(c, d, len, &r);
		free(d);
	} else if (strncmp(mode, "fd", 2) == 0) {
		int fd = open(file, O_RDONLY);
		if (fd < 0) {
			perror(file);
			return 2;
		}
		if (mode[2] == '+')
			lseek(fd, atol(mode + 3), SEEK_SET);
		st = avw_scan_fd(c, fd, &r);
		close(fd);
	} else if (strcmp(mode, "pipe") == 0) {
		int p[2];
		pid_t pid;
		size_t len;
		unsigned char *d = slurp(file, &len);
		if (pipe(p) < 0)
			return 2;
		pid = fork();
		if (pid == 0) {  /* the writer: in small pieces */
			close(p[0]);
			for (size_t off = 0; off < len; off += 1000)
				if (write(p[1], d + off, len - off < 1000 ? len - off : 1000) < 0)
					_exit(1);
			_exit(0);
		}
		close(p[1]);
		st = avw_scan_fd(c, p[0], &r);
		close(p[0]);
		waitpid(pid, NULL, 0);
		free(d);
	} else if (strcmp(mode, "path") == 0) {
		st = avw_scan_path(c, file, &r);
	} else {
		fprintf(stderr, "client-demo: unknown mode %s\n", mode);
		return 2;
	}
	rc = print(st, &r);
	avw_client_free(c);
	return rc;
}
