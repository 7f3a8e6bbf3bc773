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
	int sp[2], pipefd[2], fds[2] = { -1, -1 };
	struct ipc_msg m, got;
	size_t nfds = 2;
	char c = 0;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp), 0);
	assert_int_equal(pipe(pipefd), 0);
	memset(&m, 0, sizeof(m));
	m.type = IPC_MSG_SPAWN;
	m.worker = 42;
	strcpy(m.text, "hello");
	int send_fds[2] = { pipefd[1], pipefd[0] };
	assert_int_equal(ipc_msg_send(sp[0], &m, send_fds, 2), 0);
	assert_int_equal(ipc_msg_recv(sp[1], &got, fds, &nfds), 1);
	assert_int_equal(nfds, 2);
	assert_int_equal(got.worker, 42);
	assert_string_equal(got.text, "hello");
	assert_int_equal(write(fds[0], "x", 1), 1);  /* the received write end works */
	assert_int_equal(read(pipefd[0], &c, 1), 1);
	assert_int_equal(c, 'x');
	assert_true(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
	for (int i = 0; i < 2; i++) {
		close(fds[i]);
		close(pipefd[i]);
		close(sp[i]);
	}
}

static void test_msg_malformed(void **state)
{
	int sp[2], fds[2];
	struct ipc_msg m;
	size_t nfds;
	char big[sizeof(struct ipc_msg) + 16];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp), 0);
	assert_int_equal(ipc_msg_recv(sp[1], &m, NULL, NULL), -EAGAIN);

	assert_int_equal(send(sp[0], "0123456789", 10, 0), 10);
	assert_int_equal(ipc_msg_recv(sp[1], &m, NULL, NULL), -EBADMSG);

	memset(big, 0, sizeof(big));
	assert_int_equal(send(sp[0], big, sizeof(big), 0), (ssize_t)sizeof(big));
	assert_int_equal(ipc_msg_recv(sp[1], &m, NULL, NULL), -EBADMSG);

	memset(&m, 0, sizeof(m));
	m.type = 99;
	assert_int_equal(ipc_msg_send(sp[0], &m, NULL, 0), 0);
	assert_int_equal(ipc_msg_recv(sp[1], &m, NULL, NULL), -EBADMSG);

	memset(&m, 'A', sizeof(m));
	m.type = IPC_MSG_LOG;
	assert_int_equal(ipc_msg_send(sp[0], &m, NULL, 0), 0);
	assert_int_equal(ipc_msg_recv(sp[1], &m, NULL, NULL), -EBADMSG);

	/* Two descriptors where one was expected: refused, and none leaks. */
	int before = count_fds();
	memset(&m, 0, sizeof(m));
	m.type = IPC_MSG_READY;
	int two[2] = { sp[0], sp[0] };
	assert_int_equal(ipc_msg_send(sp[0], &m, two, 2), 0);
	nfds = 1;
	assert_int_equal(ipc_msg_recv(sp[1], &m, fds, &nfds), -EBADMSG);
	assert_int_equal(nfds, 0);
	assert_int_equal(count_fds(), before);

	close(sp[0]);
	assert_int_equal(ipc_msg_recv(sp[1], &m, NULL, NULL), 0);
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

/* A worker's libclamav message: checked, then made safe to log. */
static void test_wlog_clean(void **state)
{
	struct ipc_wlog l;
	char err[128];

	(void)state;
	memset(&l, 0, sizeof(l));
	l.magic = IPC_WLOG_MAGIC;
	l.level = IPC_LOG_WARN;
	snprintf(l.text, sizeof(l.text), "cli_scan: \"bad\" \x1b[31mheader\\\xff\n");
	assert_int_equal(ipc_wlog_clean(&l, err, sizeof(err)), 0);
	assert_string_equal(l.text, "cli_scan: ?bad? ?[31mheader??");

	l.magic = 0;
	assert_int_equal(ipc_wlog_clean(&l, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "magic"));
	l.magic = IPC_WLOG_MAGIC;
	l.level = 9;
	assert_int_equal(ipc_wlog_clean(&l, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "level 9"));
	l.level = IPC_LOG_ERROR;
	memset(l.text, 'A', sizeof(l.text));
	assert_int_equal(ipc_wlog_clean(&l, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "NUL"));
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
		cmocka_unit_test(test_msg_roundtrip_with_fds),
		cmocka_unit_test(test_msg_malformed),
		cmocka_unit_test(test_data_area_read_only),
		cmocka_unit_test(test_gather_growth),
		cmocka_unit_test(test_job_recv_rejects_fds),
		cmocka_unit_test(test_chan),
		cmocka_unit_test(test_engine_strerror),
		cmocka_unit_test(test_wlog_clean),
		cmocka_unit_test(test_gather_budget),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
