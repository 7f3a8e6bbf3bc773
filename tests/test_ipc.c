/*
 * tests/test_ipc.c: ipc/ as the supervisor's first line of defence. The
 * result validator against garbage (every field), the control records over
 * a real SOCK_SEQPACKET pair (short, overlong, unknown, unterminated, extra
 * descriptors, which must not leak), data areas, gather buffers, and the engine's
 * error texts against libclamav's own.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <clamav.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../ipc/ipc.h"

static struct ipc_result good(enum ipc_status st)
{
	struct ipc_result r;

	memset(&r, 0, sizeof(r));
	r.seq = 9;
	r.status = st;
	if (st == IPC_INFECTED || st == IPC_UNSCANNABLE)
		strcpy(r.name, "Eicar-Test-Signature");
	if (st == IPC_ERROR || st == IPC_UNSCANNABLE)
		r.engine_code = CL_EMAXSIZE;
	return r;
}

static void expect_bad(const struct ipc_result *r, const char *why)
{
	char err[128] = "";

	assert_int_equal(ipc_result_validate(r, 9, err, sizeof(err)), -1);
	assert_non_null(strstr(err, why));
}

static void test_validate_good(void **state)
{
	char err[128];

	(void)state;
	for (int st = IPC_STATUS_MIN; st <= IPC_STATUS_MAX; st++) {
		struct ipc_result r = good((enum ipc_status)st);
		assert_int_equal(ipc_result_validate(&r, 9, err, sizeof(err)), 0);
	}
}

static void test_validate_garbage(void **state)
{
	struct ipc_result r;

	(void)state;
	r = good(IPC_CLEAN);
	r.seq = 8;
	expect_bad(&r, "sequence 8, expected 9");
	r = good(IPC_CLEAN);
	r.status = 0;
	expect_bad(&r, "out of range");
	r.status = 5;
	expect_bad(&r, "out of range");
	r.status = 0xffffffffu;
	expect_bad(&r, "out of range");
	r = good(IPC_INFECTED);
	memset(r.name, 'A', sizeof(r.name));
	expect_bad(&r, "not NUL-terminated");
	r = good(IPC_INFECTED);
	r.name[3] = '\x01';
	expect_bad(&r, "non-printable");
	r = good(IPC_INFECTED);
	r.name[3] = ' ';
	expect_bad(&r, "non-printable");
	r = good(IPC_INFECTED);
	r.name[3] = (char)0xc3;
	expect_bad(&r, "non-printable");
	r = good(IPC_CLEAN);
	strcpy(r.name, "x");
	expect_bad(&r, "CLEAN with a name");
	r = good(IPC_INFECTED);
	r.name[0] = '\0';
	expect_bad(&r, "without a name");
	r = good(IPC_ERROR);
	r.engine_code = 0;
	expect_bad(&r, "without an engine code");
	r = good(IPC_ERROR);
	r.engine_code = -1;
	expect_bad(&r, "engine code -1 out of range");
	r.engine_code = 1001;
	expect_bad(&r, "out of range");
}

/* ALLMATCHSCAN's further names: a detection's only, each a name. */
static void test_validate_more_names(void **state)
{
	char err[128];
	struct ipc_result r;

	(void)state;
	r = good(IPC_INFECTED);
	r.nmore = 2;
	strcpy(r.more[0], "Second");
	strcpy(r.more[1], "Third");
	assert_int_equal(ipc_result_validate(&r, 9, err, sizeof(err)), 0);
	r.nmore = IPC_MORE_MAX + 1;
	expect_bad(&r, "more names");
	r.nmore = 0xffffffffu;
	expect_bad(&r, "more names");
	r = good(IPC_CLEAN);
	r.nmore = 1;
	strcpy(r.more[0], "Second");
	expect_bad(&r, "more names for status");
	r = good(IPC_UNSCANNABLE);
	r.nmore = 1;
	strcpy(r.more[0], "Second");
	expect_bad(&r, "more names for status");
	r = good(IPC_INFECTED);
	r.nmore = 1;
	expect_bad(&r, "name 2 of the matches empty");
	memset(r.more[0], 'A', sizeof(r.more[0]));
	expect_bad(&r, "unterminated");
	strcpy(r.more[0], "bad name");
	expect_bad(&r, "not printable");
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

static void test_msg_roundtrip_with_fds(void **state)
{
	int sp[2], p1[2], p2[2], fds[IPC_SPAWN_FDS] = { -1, -1, -1 };
	struct ipc_spawn spawn = { .worker = 42 };
	struct ipc_msg got;
	char err[128], c = 0;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp), 0);
	assert_int_equal(pipe(p1), 0);
	assert_int_equal(pipe(p2), 0);
	int send_fds[IPC_SPAWN_FDS] = { p1[1], p1[0], p2[1] };
	assert_int_equal(ipc_msg_send(sp[0], IPC_MSG_SPAWN, &spawn, send_fds, IPC_SPAWN_FDS), 0);
	assert_int_equal(ipc_msg_recv(sp[1], IPC_MSG_TO_HOST, &got, fds, err, sizeof(err)), 1);
	assert_int_equal(got.type, IPC_MSG_SPAWN);
	assert_int_equal(got.u.spawn.worker, 42);
	assert_int_equal(write(fds[0], "x", 1), 1);  /* the received write end works */
	assert_int_equal(read(p1[0], &c, 1), 1);
	assert_int_equal(c, 'x');
	assert_true(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
	for (int i = 0; i < IPC_SPAWN_FDS; i++)
		close(fds[i]);
	for (int i = 0; i < 2; i++) {
		close(p1[i]);
		close(p2[i]);
		close(sp[i]);
	}
}

/* A host that dies with the supervisor's requests unread resets the
 * socket; its last record (why it died) must still be read, then the end. */
static void test_msg_last_words_after_reset(void **state)
{
	int sp[2];
	struct ipc_fatal f;
	struct ipc_spawn unread = { .worker = 1 };
	struct ipc_msg got;
	char err[128];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp), 0);
	memset(&f, 0, sizeof(f));
	memcpy(f.reason, "sandbox violation", sizeof("sandbox violation"));
	f.sysno = 59;
	int pipefd[2];
	assert_int_equal(pipe(pipefd), 0);
	int three[IPC_SPAWN_FDS] = { pipefd[0], pipefd[1], pipefd[0] };
	assert_int_equal(ipc_msg_send(sp[1], IPC_MSG_SPAWN, &unread, three, IPC_SPAWN_FDS), 0);
	assert_int_equal(ipc_msg_send(sp[0], IPC_MSG_FATAL, &f, NULL, 0), 0);
	close(sp[0]);  /* the host exits, the SPAWN unread */
	assert_int_equal(ipc_msg_recv(sp[1], IPC_MSG_TO_SUP, &got, NULL, err, sizeof(err)), 1);
	assert_int_equal(got.type, IPC_MSG_FATAL);
	assert_int_equal(got.u.fatal.sysno, 59);
	assert_int_equal(ipc_msg_recv(sp[1], IPC_MSG_TO_SUP, &got, NULL, err, sizeof(err)), 0);
	close(sp[1]);
	close(pipefd[0]);
	close(pipefd[1]);
}

/* A record as a hostile peer writes it: any bytes, any descriptors. */
static void send_raw(int sock, const void *p, size_t n, const int *fds, size_t nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = (void *)p, .iov_len = n };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds > 0) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	assert_int_equal(sendmsg(sock, &mh, 0), (ssize_t)n);
}

static void expect_refused(int sp[2], const void *m, size_t n, const int *fds, size_t nfds, const char *why)
{
	struct ipc_msg got;
	char err[160] = "";
	int before = count_fds();

	send_raw(sp[0], m, n, fds, nfds);
	assert_int_equal(ipc_msg_recv(sp[1], IPC_MSG_TO_SUP, &got, NULL, err, sizeof(err)), -EBADMSG);
	if (strstr(err, why) == NULL)
		fail_msg("expected [%s] in [%s]", why, err);
	assert_int_equal(count_fds(), before);  /* no descriptor leaks */
}

#define HDR offsetof(struct ipc_msg, u)

static void test_msg_malformed(void **state)
{
	int sp[2];
	struct ipc_msg m;
	char err[160];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp), 0);
	assert_int_equal(ipc_msg_recv(sp[1], IPC_MSG_TO_SUP, &m, NULL, err, sizeof(err)), -EAGAIN);

	memset(&m, 0, sizeof(m));
	expect_refused(sp, &m, 4, NULL, 0, "shorter than a header");
	char big[sizeof(struct ipc_msg) + 16];
	memset(big, 0, sizeof(big));
	expect_refused(sp, big, sizeof(big), NULL, 0, "longer than any type");
	m.type = 99;
	m.len = 0;
	expect_refused(sp, &m, HDR, NULL, 0, "type 99");
	/* Direction: the host never receives READY, the supervisor never START. */
	m.type = IPC_MSG_START;
	m.len = sizeof(m.u.start);
	m.u.start.nofile = 10;
	expect_refused(sp, &m, HDR + sizeof(m.u.start), NULL, 0, "not expected here");
	/* Truncated and overlong payloads, and a length field that lies. */
	memset(&m, 0, sizeof(m));
	m.type = IPC_MSG_WORKER_UP;
	m.len = sizeof(m.u.up);
	m.u.up.worker = 1;
	m.u.up.pid = 1234;
	expect_refused(sp, &m, HDR + sizeof(m.u.up) - 1, NULL, 0, "expected");
	expect_refused(sp, &m, HDR + sizeof(m.u.up) + 8, NULL, 0, "expected");
	m.len = 4;
	expect_refused(sp, &m, HDR + sizeof(m.u.up), NULL, 0, "length field 4");
	/* Field ranges. */
	m.len = sizeof(m.u.up);
	m.u.up.pid = 1;
	expect_refused(sp, &m, HDR + sizeof(m.u.up), NULL, 0, "pid 1");
	memset(&m, 0, sizeof(m));
	m.type = IPC_MSG_LOG;
	m.len = sizeof(m.u.log);
	m.u.log.level = 9;
	expect_refused(sp, &m, HDR + sizeof(m.u.log), NULL, 0, "level 9");
	m.u.log.level = IPC_LOG_WARN;
	memset(m.u.log.text, 'A', sizeof(m.u.log.text));
	expect_refused(sp, &m, HDR + sizeof(m.u.log), NULL, 0, "unterminated");
	memset(&m, 0, sizeof(m));
	m.type = IPC_MSG_READY;
	m.len = sizeof(m.u.ready);
	m.u.ready.signatures = 5;
	m.u.ready.missing = 0x80;
	expect_refused(sp, &m, HDR + sizeof(m.u.ready), NULL, 0, "unknown missing");
	/* Descriptors where none belong: refused, and none leaks. */
	m.u.ready.missing = 0;
	int two[2] = { sp[0], sp[0] };
	expect_refused(sp, &m, HDR + sizeof(m.u.ready), two, 2, "descriptors");

	/* A good one still passes, with its texts cleaned for the log. */
	snprintf(m.u.ready.database, sizeof(m.u.ready.database), "main \"1\"\n");
	assert_int_equal(ipc_msg_send(sp[0], IPC_MSG_READY, &m.u.ready, NULL, 0), 0);
	assert_int_equal(ipc_msg_recv(sp[1], IPC_MSG_TO_SUP, &m, NULL, err, sizeof(err)), 1);
	assert_string_equal(m.u.ready.database, "main ?1?");

	close(sp[0]);
	assert_int_equal(ipc_msg_recv(sp[1], IPC_MSG_TO_SUP, &m, NULL, err, sizeof(err)), 0);
	close(sp[1]);
}

static void test_data_area_read_only(void **state)
{
	struct ipc_data d;
	struct stat st;
	void *p;
	int ro;

	(void)state;
	assert_int_equal(ipc_data_create(&d, 1 << 20), 0);
	memcpy(d.base, "hello, world", 12);
	ro = ipc_data_ro_fd(&d);
	assert_true(ro >= 0);
	assert_int_equal(fstat(ro, &st), 0);
	assert_int_equal(st.st_size, 1 << 20);
	/* The worker's descriptor cannot give it a writable view or resize. */
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0);
	assert_true(p == MAP_FAILED);
	assert_int_equal(errno, EACCES);
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, ro, 0);
	assert_true(p != MAP_FAILED);
	assert_memory_equal(p, "hello, world", 12);
	assert_int_equal(mprotect(p, 4096, PROT_READ | PROT_WRITE), -1);
	assert_int_equal(pwrite(ro, "x", 1, 0), -1);
	assert_int_equal(ftruncate(d.fd, 1), -1);  /* sealed size */
	/* Trimming gives pages back; the bytes read as zeros afterwards. */
	memset(d.base, 'A', 1 << 20);
	ipc_data_trim(&d, 4096, 1 << 20);
	assert_int_equal(((unsigned char *)d.base)[8192], 0);
	assert_int_equal(((unsigned char *)d.base)[100], 'A');
	munmap(p, 4096);
	close(ro);
	ipc_data_free(&d);
	assert_int_equal(d.fd, -1);
}

static void test_gather_growth(void **state)
{
	struct ipc_gather g, h;
	size_t big = 3u << 20;

	(void)state;
	assert_int_equal(ipc_gather_get(&g, big), 0);
	assert_int_equal(g.mapped, IPC_GATHER_FIRST);
	for (size_t i = 0; i < IPC_GATHER_FIRST; i++)
		g.base[i] = (unsigned char)(i * 13);
	assert_int_equal(ipc_gather_reserve(&g, IPC_GATHER_FIRST + 1), 0);
	assert_true(g.mapped >= IPC_GATHER_FIRST + 1);
	for (size_t i = 0; i < IPC_GATHER_FIRST; i += 4097)
		assert_int_equal(g.base[i], (unsigned char)(i * 13));  /* kept across the move */
	assert_int_equal(ipc_gather_reserve(&g, big), 0);
	g.base[big - 1] = 1;
	assert_int_equal(ipc_gather_reserve(&g, big + 1), -EINVAL);  /* never past cap */
	unsigned char *was = g.base;
	ipc_gather_put(&g);
	assert_null(g.base);
	ipc_gather_put(&g);  /* idempotent */
	/* Reused from the free list, cut back to its first size. */
	assert_int_equal(ipc_gather_get(&h, big), 0);
	assert_int_equal(h.mapped, IPC_GATHER_FIRST);
	assert_ptr_equal(h.base, was);
	ipc_gather_put(&h);
	ipc_gather_drain();
}

static void test_job_recv_rejects_fds(void **state)
{
	struct ipc_job job = { .seq = 5, .len = 10 }, got;
	int sp[2], before;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp), 0);
	assert_int_equal(ipc_job_send(sp[0], &job), 0);
	assert_int_equal(ipc_job_recv(sp[1], &got), 1);
	assert_int_equal(got.seq, 5);
	assert_int_equal(got.len, 10);
	/* A job announcement never carries descriptors: refused, none leaks. */
	before = count_fds();
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = &job, .iov_len = sizeof(job) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
		.msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &sp[0], sizeof(int));
	assert_int_equal(sendmsg(sp[0], &mh, 0), (ssize_t)sizeof(job));
	assert_int_equal(ipc_job_recv(sp[1], &got), -EBADMSG);
	assert_int_equal(count_fds(), before);
	close(sp[0]);
	assert_int_equal(ipc_job_recv(sp[1], &got), 0);  /* EOF: retire */
	close(sp[1]);
}

static void test_chan(void **state)
{
	struct ipc_chan *c;
	struct stat st;
	int fd = ipc_chan_create();

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, IPC_CHAN_SIZE);
	c = ipc_chan_map(fd);
	assert_non_null(c);
	assert_int_equal(c->magic, IPC_CHAN_MAGIC);
	assert_int_equal(ftruncate(fd, 0), -1);  /* sealed against shrinking */
	ipc_chan_unmap(c);
	close(fd);
}

/* max_message_memory: all gathers together stay under the budget. */
static void test_gather_budget(void **state)
{
	struct ipc_gather a = { 0 }, b = { 0 };
	size_t base = ipc_gather_in_use();

	(void)state;
	ipc_gather_set_budget(base + (3u << 19));  /* 1.5 MB */
	assert_int_equal(ipc_gather_get(&a, 4u << 20), 0);
	assert_int_equal(ipc_gather_get(&b, 4u << 20), 0);
	assert_int_equal(ipc_gather_in_use(), base + 2 * IPC_GATHER_FIRST);
	assert_int_equal(ipc_gather_reserve(&a, 700u << 10), 0);      /* 1 MB + 256 KB mapped */
	assert_int_equal(ipc_gather_reserve(&b, 600u << 10), -ENOBUFS); /* 2 MB would pass 1.5 */
	assert_int_equal(ipc_gather_reserve(&b, 500u << 10), 0);      /* 1.5 MB: just fits */
	ipc_gather_put(&b);
	/* Alone, a buffer may grow past the budget: one message always fits. */
	assert_int_equal(ipc_gather_reserve(&a, 3u << 20), 0);
	ipc_gather_put(&a);
	assert_int_equal(ipc_gather_in_use(), base);
	assert_int_equal(ipc_gather_get(&b, 4u << 20), 0);
	assert_int_equal(ipc_gather_reserve(&b, 900u << 10), 0);       /* given back: fits again */
	ipc_gather_put(&b);
	ipc_gather_set_budget(SIZE_MAX);
}

/* A worker's records: DONE and LOG, each exactly its size; LOG checked,
 * then made safe to log. */
static void test_wrec(void **state)
{
	struct ipc_wrec r, got;
	char err[128];
	int sp[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp), 0);
	memset(&r, 0, sizeof(r));
	r.tag = IPC_W_DONE;
	r.u.done_seq = 77;
	assert_int_equal(ipc_wrec_send(sp[0], &r), 0);
	assert_int_equal(ipc_wrec_recv(sp[1], &got, err, sizeof(err)), 1);
	assert_int_equal(got.tag, IPC_W_DONE);
	assert_int_equal(got.u.done_seq, 77);

	memset(&r, 0, sizeof(r));
	r.tag = IPC_W_LOG;
	r.u.log.level = IPC_LOG_WARN;
	snprintf(r.u.log.text, sizeof(r.u.log.text), "cli_scan: \"bad\" \x1b[31mheader\\\xff\n");
	assert_int_equal(ipc_wrec_send(sp[0], &r), 0);
	assert_int_equal(ipc_wrec_recv(sp[1], &got, err, sizeof(err)), 1);
	assert_string_equal(got.u.log.text, "cli_scan: ?bad? ?[31mheader??");

	r.u.log.level = 9;
	assert_int_equal(ipc_wrec_send(sp[0], &r), 0);
	assert_int_equal(ipc_wrec_recv(sp[1], &got, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "level 9"));
	r.u.log.level = IPC_LOG_ERROR;
	memset(r.u.log.text, 'A', sizeof(r.u.log.text));
	assert_int_equal(ipc_wrec_send(sp[0], &r), 0);
	assert_int_equal(ipc_wrec_recv(sp[1], &got, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "NUL"));
	/* A DONE the size of a LOG, an unknown tag, a bare 8-byte sequence. */
	r.tag = IPC_W_DONE;
	send_raw(sp[0], &r, offsetof(struct ipc_wrec, u) + sizeof(struct ipc_wlog), NULL, 0);
	assert_int_equal(ipc_wrec_recv(sp[1], &got, err, sizeof(err)), -EBADMSG);
	r.tag = 7;
	send_raw(sp[0], &r, offsetof(struct ipc_wrec, u) + 8, NULL, 0);
	assert_int_equal(ipc_wrec_recv(sp[1], &got, err, sizeof(err)), -EBADMSG);
	uint64_t seq = 77;
	send_raw(sp[0], &seq, sizeof(seq), NULL, 0);
	assert_int_equal(ipc_wrec_recv(sp[1], &got, err, sizeof(err)), -EBADMSG);
	close(sp[0]);
	assert_int_equal(ipc_wrec_recv(sp[1], &got, err, sizeof(err)), 0);
	close(sp[1]);
}

static void test_engine_strerror(void **state)
{
	(void)state;
	for (int i = 0; i < CL_ELAST_ERROR; i++)
		assert_string_equal(ipc_engine_strerror(i), cl_strerror((cl_error_t)i));
	assert_string_equal(ipc_engine_strerror(-1), "Unknown error code");
	assert_string_equal(ipc_engine_strerror(1000), "Unknown error code");
	assert_string_equal(ipc_status_name(IPC_UNSCANNABLE), "UNSCANNABLE");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validate_good),
		cmocka_unit_test(test_validate_garbage),
		cmocka_unit_test(test_validate_more_names),
		cmocka_unit_test(test_msg_roundtrip_with_fds),
		cmocka_unit_test(test_msg_last_words_after_reset),
		cmocka_unit_test(test_msg_malformed),
		cmocka_unit_test(test_data_area_read_only),
		cmocka_unit_test(test_gather_growth),
		cmocka_unit_test(test_job_recv_rejects_fds),
		cmocka_unit_test(test_chan),
		cmocka_unit_test(test_engine_strerror),
		cmocka_unit_test(test_wrec),
		cmocka_unit_test(test_gather_budget),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
