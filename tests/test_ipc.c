/*
 * tests/test_ipc.c: ipc/ as the supervisor's first line of defence. The
 * result validator against garbage (every field), the control records over
 * a real SOCK_SEQPACKET pair (short, overlong, unknown, unterminated, extra
 * descriptors, which must not leak), sealed job buffers, and the engine's
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

static void test_jobbuf_sealed(void **state)
{
	struct ipc_jobbuf jb;
	struct stat st;
	char back[5];
	void *p;

	(void)state;
	assert_int_equal(ipc_jobbuf_create(&jb, 1 << 20), 0);
	memcpy(jb.base, "hello, world", 12);
	assert_int_equal(ipc_jobbuf_seal(&jb, 5), 0);
	assert_null(jb.base);
	assert_int_equal(fstat(jb.fd, &st), 0);
	assert_int_equal(st.st_size, 5);
	/* Nobody can change the bytes any more: no writable map, write, resize. */
	p = mmap(NULL, 5, PROT_READ | PROT_WRITE, MAP_SHARED, jb.fd, 0);
	assert_true(p == MAP_FAILED);
	assert_int_equal(errno, EPERM);
	assert_int_equal(pwrite(jb.fd, "x", 1, 0), -1);
	assert_int_equal(ftruncate(jb.fd, 1), -1);
	assert_int_equal(ftruncate(jb.fd, 100), -1);
	p = mmap(NULL, 5, PROT_READ, MAP_SHARED, jb.fd, 0);
	assert_true(p != MAP_FAILED);
	assert_memory_equal(p, "hello", 5);
	munmap(p, 5);
	assert_int_equal(pread(jb.fd, back, 5, 0), 5);
	assert_int_equal(ipc_jobbuf_seal(&jb, 6), -EINVAL);  /* cannot grow */
	ipc_jobbuf_free(&jb);
	assert_int_equal(jb.fd, -1);
	ipc_jobbuf_free(&jb);  /* idempotent */
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
		cmocka_unit_test(test_jobbuf_sealed),
		cmocka_unit_test(test_chan),
		cmocka_unit_test(test_engine_strerror),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
