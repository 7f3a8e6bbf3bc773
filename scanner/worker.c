/*
 * scanner/worker.c: one worker, forked by the host after the database is
 * compiled, so the engine is shared copy-on-write.
 *
 * Entry: map the channel and the data area (read-only), then contain
 * (priv_worker_contain: die with the host, close every other descriptor,
 * RLIMIT_AS, seccomp); then scan one job at a time. A worker is the part assumed compromised: it sees only what
 * the supervisor copies into its data area, and cannot write there.
 */
#define _GNU_SOURCE
#include "scan.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../platform/plat.h"
#include "../privileges/priv.h"

#ifdef AVW_FAULT_INJECTION
#include "../tests/attack.h"
#include "../tests/fault.h"
#endif

static int log_sock = -1;
static unsigned log_sent;
static unsigned scan_errors;  /* libclamav's error messages during this scan */

/*
 * libclamav's warnings and errors during a scan, to the supervisor's log.
 * A few per job: a hostile file can make the engine complain endlessly.
 */
static void worker_clamav_msg(enum cl_msg severity, const char *fullmsg, const char *msg, void *ctx)
{
	struct ipc_wrec r;

	(void)fullmsg;
	(void)ctx;
	if (severity >= CL_MSG_ERROR)
		scan_errors++;
	if (severity < CL_MSG_WARN || log_sock < 0 || log_sent >= 16)
		return;
	log_sent++;
	memset(&r, 0, sizeof(r));
	r.tag = IPC_W_LOG;
	r.u.log.level = severity >= CL_MSG_ERROR ? IPC_LOG_ERROR : IPC_LOG_WARN;
	snprintf(r.u.log.text, sizeof(r.u.log.text), "%s", msg);
	(void)ipc_wrec_send(log_sock, &r);
}

static void scan_job(const struct cl_engine *engine, const struct ipc_job *job,
    const unsigned char *data, size_t cap, struct ipc_result *r)
{
	memset(r, 0, sizeof(r[0]));
	if (job->len > cap) {
		r->status = IPC_ERROR;
		r->engine_code = CL_EARG;
		return;
	}
#ifdef AVW_FAULT_INJECTION
	int corrupt = fault_maybe_inject(data, job->len);
	int err = 0;
	fault_resources_begin(cl_engine_get_str(engine, CL_ENGINE_TMPDIR, &err));
#endif
	uint64_t t0 = plat_now_ns();
	scan_errors = 0;
	scan_buffer_flags(engine, data, job->len, job->flags, r);
	r->scan_ns = plat_now_ns() - t0;
#ifdef AVW_FAULT_INJECTION
	fault_resources_end();
#endif
	/*
	 * libclamav goes on after it failed to create, write or open a temp
	 * file, or to allocate, and then says CLEAN for what it did not read.
	 * A scan during which it reported an error was not a scan: fail closed.
	 */
	if (r->status == IPC_CLEAN && scan_errors > 0) {
		r->status = IPC_ERROR;
		r->engine_code = IPC_CODE_ENGINE_FAILED;
	}
#ifdef AVW_FAULT_INJECTION
	if (corrupt)
		fault_corrupt(r);
#endif
}

void scan_worker_main(const struct cl_engine *engine, const char *tmpdir, pid_t host_pid, int null_fd, int job_sock, int chan_fd, int data_fd,
    uint64_t as_limit)
{
	struct ipc_chan *chan = ipc_chan_map(chan_fd);
	const unsigned char *data;
	struct ipc_result r;
	struct ipc_job job;
	struct stat st;
	size_t cap;
	int rc;

	if (chan == NULL || chan->magic != IPC_CHAN_MAGIC)
		fatal("worker_abort", "step=map_channel");
	if (fstat(data_fd, &st) < 0 || st.st_size <= 0)
		fatal("worker_abort", "step=data_area");
	cap = (size_t)st.st_size;
	data = mmap(NULL, cap, PROT_READ, MAP_SHARED, data_fd, 0);
	if (data == MAP_FAILED)
		fatal("worker_abort", "step=map_data");
	/* The mappings stay; the descriptors go. The job socket moves to the
	 * descriptor the host's precompiled filter names (the host's own
	 * control socket there, inherited, goes with it). */
	close(chan_fd);
	close(data_fd);
	if (job_sock != PRIV_WORKER_JOB_FD) {
		if (dup2(job_sock, PRIV_WORKER_JOB_FD) < 0)
			fatal("worker_abort", "step=job_fd");
		close(job_sock);
		job_sock = PRIV_WORKER_JOB_FD;
	}
	/* libclamav's temp files go to this worker's dir alone (the engine is
	 * this process's copy-on-write copy: the host's stays as it was). */
	if (cl_engine_set_str((struct cl_engine *)engine, CL_ENGINE_TMPDIR, tmpdir) != CL_SUCCESS)
		fatalx("worker_abort", "step=tmpdir");
	struct priv_worker_params wp = {
		.host_pid = host_pid, .tmpdir = tmpdir, .job_sock = job_sock, .null_fd = null_fd, .violation = &chan->violation,
		.as_limit = as_limit,
	};
	const char *step = NULL;
	if ((rc = priv_worker_contain(&wp, &step)) < 0) {
		errno = -rc;
		fatal("worker_abort", "step=\"%s\"", step);
	}
	log_sock = job_sock;
	cl_set_clcb_msg(worker_clamav_msg);

	for (;;) {
		rc = ipc_job_recv(job_sock, &job);
		if (rc == 0)
			_exit(0);  /* supervisor closed the channel: retire */
		if (rc < 0)
			_exit(2);  /* a malformed announcement: never guess */
		priv_worker_set_job(job.seq);
		log_sent = 0;
#ifdef AVW_FAULT_INJECTION
		struct attack_ctx actx = { .engine = engine, .tmpdir = tmpdir, .data = data, .cap = cap,
			.chan = chan, .job_sock = job_sock, .seq = job.seq };
		if (job.len > cap || !attack_job(&actx, data, job.len, &r))
#endif
		scan_job(engine, &job, data, cap, &r);
		r.seq = job.seq;
		/* Result first, then the record that publishes it. */
		memcpy(&chan->result, &r, sizeof(r));
		__atomic_thread_fence(__ATOMIC_RELEASE);
		struct ipc_wrec done = { .tag = IPC_W_DONE, .u.done_seq = job.seq };
		if (ipc_wrec_send(job_sock, &done) < 0)
			_exit(2);
		priv_worker_set_job(0);
	}
}
