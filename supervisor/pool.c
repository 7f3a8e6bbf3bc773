/*
 * supervisor/pool.c: the scanner host generation, its workers, the job
 * queue and dispatch.
 *
 * The supervisor decides everything here: which worker gets which job, when
 * a worker is killed (timeout, malformed result, socket closed), how its job
 * is answered (exactly once), and when a host is restarted (backing off when
 * it cannot start). Every byte a worker or host sends is validated first.
 */
#define _GNU_SOURCE
#include "sup.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../platform/plat.h"
#include "../privileges/priv.h"
#include "lifecycle.h"
#include "poison.h"

/*
 * Host start-up failures (bad scanner_path, unreadable database) back off:
 * retrying a broken start at full speed only fills the log. 1 s doubling to
 * 60 s, reset by the first successful start. Per-job faults are never
 * throttled: a crafted mail could otherwise deny service to every other.
 */
#define SUP_BACKOFF_MIN_MS 1000
#define SUP_BACKOFF_MAX_MS 60000

struct sup_worker {
	unsigned slot;
	uint32_t id;
	enum sup_wstate state;
	pid_t pid;
	int pidfd;
	int sock;
	struct ipc_chan *chan;
	struct ipc_data data;  /* the job being scanned, copied in at dispatch */
	uv_poll_t poll;
	int poll_init;
	struct sup_job *job;
	uint64_t seq;
	uint64_t jobs;
	uint64_t started_ns;
	uint64_t died_ns;   /* when it was found dead, for the replacement delay */
	int retiring;       /* max_jobs_per_worker reached */
	int exit_status;    /* wait status from the host's report */
	struct ipc_result result;  /* validated copy of the last result */
	char fault[160];    /* first cause of death, if known */
	int32_t fault_code;
	/* Everything above is reset for each new worker in the slot. */
	uv_timer_t timer;   /* lives as long as the slot */
};

enum sup_hstate { H_NONE, H_STARTING, H_READY, H_EXITING };

struct sup_host {
	enum sup_hstate state;
	uv_process_t proc;
	int proc_open;
	int ctl;
	uv_poll_t ctl_poll;
	int poll_open;
	pid_t pid;
	unsigned sigs;
	char engine[64];
	char fatal[IPC_TEXT_MAX];
	uint64_t started_ns;
};

static struct {
	uv_loop_t *loop;
	const struct sup_config *cfg;
	void (*ready_cb)(void);
	struct sup_worker *workers;
	unsigned nworkers;
	uint32_t next_worker_id;
	uint64_t next_seq;
	struct sup_host host;
	uv_timer_t restart_timer;
	uv_timer_t queue_timer;   /* the oldest queued job's deadline */
	unsigned backoff_ms;
	int start_failed;         /* the last start attempt failed: fail fast */
	char last_failure[IPC_TEXT_MAX];
	struct sup_job *qhead, *qtail;
	size_t qlen;
	int draining;
	int closing;
	void (*drain_cb)(void);
	struct sup_stats stats;
	uid_t uid;
	gid_t gid;
	int setid;
	/* worker death -> replacement serving, last samples (ns) */
	uint64_t respawn_ns[256];
	unsigned nrespawn;
	/* per job: dispatch to answer, minus the time inside libclamav (ns) */
	uint64_t overhead_ns[4096];
	unsigned noverhead;
} P;

static void dispatch(void);
static void host_start(void);
static void worker_event(struct sup_worker *w, enum sup_wevent ev);

/* ---------------------------------------------------------------- helpers */

static void verdict_error(struct sup_verdict *v, int32_t code, const char *fmt, ...) PLAT_PRINTF(3, 4);

static void verdict_error(struct sup_verdict *v, int32_t code, const char *fmt, ...)
{
	va_list ap;

	memset(v, 0, sizeof(*v));
	v->status = IPC_ERROR;
	v->engine_code = code;
	va_start(ap, fmt);
	vsnprintf(v->reason, sizeof(v->reason), fmt, ap);
	va_end(ap);
}

/* The bytes are in the gather buffer until dispatch, then in the worker's
 * data area (read-only to the worker) until the slot is released. */
static void job_hash(struct sup_job *job, const struct sup_worker *w)
{
	const void *p = job->buf.base;

	if (job->have_hash)
		return;
	if (p == NULL && w != NULL && w->data.base != NULL)
		p = w->data.base;
	if (p == NULL && job->len > 0)
		return;
	sup_hash(job->len ? p : "", job->len, job->hash);
	job->have_hash = 1;
}

static void job_finish(struct sup_job *job, const struct sup_verdict *v, struct sup_worker *w)
{
	uint64_t ns = plat_now_ns() - job->t_submit;

	P.stats.scanned++;
	P.stats.scan_ns_total += ns;
	switch (v->status) {
	case IPC_CLEAN: P.stats.clean++; break;
	case IPC_INFECTED: P.stats.infected++; break;
	case IPC_UNSCANNABLE: P.stats.unscannable++; break;
	default: P.stats.errors++; break;
	}
	/* A crash the content caused, or a timeout, counts against it. */
	if (v->status == IPC_ERROR && job->blame) {
		job_hash(job, w);
		if (job->have_hash && sup_poison_record(job->hash, v->reason, v->engine_code, plat_now_ns())) {
			char hex[2 * SUP_HASH_LEN + 1];
			for (int i = 0; i < SUP_HASH_LEN; i++)
				snprintf(hex + 2 * i, 3, "%02x", job->hash[i]);
			plat_log(PLAT_LOG_WARN, "poison_message", "sha256=%s faults=%u reason=\"%s\" ttl=%us "
			    "action=\"answered from memory, not scanned again, until the ttl passes\"",
			    hex, P.cfg->poison_threshold, v->reason, P.cfg->poison_ttl);
		}
	}
	if (v->status == IPC_ERROR)
		plat_log(PLAT_LOG_WARN, "scan", "id=%" PRIu64 " size=%zu ms=%.3f verdict=ERROR reason=\"%s\" worker=%u",
		    job->id, job->len, (double)ns / 1e6, v->reason, w ? w->id : 0);
	else
		plat_log(PLAT_LOG_INFO, "scan", "id=%" PRIu64 " size=%zu ms=%.3f verdict=%s%s%s worker=%u",
		    job->id, job->len, (double)ns / 1e6, ipc_status_name(v->status),
		    v->name[0] ? " virus=" : "", v->name, w ? w->id : 0);
	ipc_gather_put(&job->buf);
	/* A large message's pages go back to the system, not to the next job. */
	if (w != NULL && job->len > IPC_GATHER_FIRST)
		ipc_data_trim(&w->data, IPC_GATHER_FIRST, job->len);
	job->worker = NULL;
	job->done(job, v);
}

static void queue_arm(void);

static void queue_push(struct sup_job *job)
{
	job->next = NULL;
	if (P.qtail)
		P.qtail->next = job;
	else
		P.qhead = job;
	P.qtail = job;
	P.qlen++;
	if (P.qlen == 1)
		queue_arm();
}

static struct sup_job *queue_pop(void)
{
	struct sup_job *job = P.qhead;

	if (job) {
		P.qhead = job->next;
		if (P.qhead == NULL)
			P.qtail = NULL;
		P.qlen--;
		job->next = NULL;
		queue_arm();
	}
	return job;
}

static void fail_queue(const char *reason)
{
	struct sup_job *job;
	struct sup_verdict v;

	while ((job = queue_pop()) != NULL) {
		verdict_error(&v, IPC_CODE_UNAVAILABLE, "%s", reason);
		job_finish(job, &v, NULL);
	}
}

/* A queued job waits for a worker at most `timeout`, like a scan. */
static void queue_expired(uv_timer_t *t)
{
	uint64_t now = plat_now_ns(), limit = (uint64_t)P.cfg->timeout * 1000000000ull;
	struct sup_verdict v;

	(void)t;
	while (P.qhead != NULL && now - P.qhead->t_submit >= limit) {
		struct sup_job *job = queue_pop();
		verdict_error(&v, IPC_CODE_UNAVAILABLE, "no scanner available within %u s", P.cfg->timeout);
		job_finish(job, &v, NULL);
	}
	queue_arm();
}

static void queue_arm(void)
{
	uint64_t limit = (uint64_t)P.cfg->timeout * 1000000000ull, now, waited;

	if (P.closing)
		return;
	if (P.qhead == NULL) {
		uv_timer_stop(&P.queue_timer);
		return;
	}
	now = plat_now_ns();
	waited = now - P.qhead->t_submit;
	uv_timer_start(&P.queue_timer, queue_expired,
	    waited >= limit ? 0 : (limit - waited + 999999) / 1000000, 0);
}

static void check_drained(void)
{
	if (!P.draining || P.qlen > 0)
		return;
	for (unsigned i = 0; i < P.nworkers; i++)
		if (P.workers[i].job != NULL)
			return;
	if (P.drain_cb) {
		void (*cb)(void) = P.drain_cb;
		P.drain_cb = NULL;
		cb();
	}
}

/* ---------------------------------------------------------------- workers */

static void worker_set_fault(struct sup_worker *w, int32_t code, const char *fmt, ...) PLAT_PRINTF(3, 4);

/* First cause wins: later events (the SIGKILL we sent) do not overwrite it. */
static void worker_set_fault(struct sup_worker *w, int32_t code, const char *fmt, ...)
{
	va_list ap;

	if (w->fault[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(w->fault, sizeof(w->fault), fmt, ap);
	va_end(ap);
	w->fault_code = code;
}

static void worker_closed(uv_handle_t *h)
{
	struct sup_worker *w = h->data;

	if (w->sock >= 0)
		close(w->sock);
	if (w->pidfd >= 0)
		close(w->pidfd);
	ipc_chan_unmap(w->chan);
	ipc_data_free(&w->data);
	w->sock = -1;
	w->pidfd = -1;
	w->chan = NULL;
	w->poll_init = 0;
	w->pid = 0;
	worker_event(w, EV_CLOSED);
	check_drained();
}

static void worker_request_fork(struct sup_worker *w)
{
	struct ipc_msg m;
	int sp[2] = { -1, -1 }, chan_fd = -1, ro_fd = -1, fds[3], rc;
	uint64_t died = w->died_ns;

	memset(w, 0, offsetof(struct sup_worker, timer));
	/* worker_closed() finds the slot through poll.data, even if never polled. */
	w->poll.data = w;
	w->slot = (unsigned)(w - P.workers);
	w->sock = -1;
	w->pidfd = -1;
	w->data.fd = -1;
	w->died_ns = died;
	w->state = W_SPAWNING;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0 ||
	    (chan_fd = ipc_chan_create()) < 0 || (w->chan = ipc_chan_map(chan_fd)) == NULL ||
	    ipc_data_create(&w->data, P.cfg->max_message_size + SUP_INSTREAM_SLACK) < 0 ||
	    (ro_fd = ipc_data_ro_fd(&w->data)) < 0) {
		log_warn("worker_spawn", "slot=%u step=channel", w->slot);
		goto fail;
	}
	w->id = ++P.next_worker_id;
	w->sock = sp[0];
	memset(&m, 0, sizeof(m));
	m.type = IPC_MSG_SPAWN;
	m.worker = w->id;
	fds[0] = sp[1];
	fds[1] = chan_fd;
	fds[2] = ro_fd;
	rc = ipc_msg_send(P.host.ctl, &m, fds, 3);
	close(sp[1]);
	close(chan_fd);
	close(ro_fd);
	if (rc < 0) {
		/* The host is going away; its exit handler resets the pool. */
		sp[1] = chan_fd = ro_fd = -1;
		goto fail;
	}
	return;
fail:
	for (int i = 0; i < 2; i++)
		if (sp[i] >= 0)
			close(sp[i]);
	if (chan_fd >= 0)
		close(chan_fd);
	if (ro_fd >= 0)
		close(ro_fd);
	ipc_chan_unmap(w->chan);
	ipc_data_free(&w->data);
	w->chan = NULL;
	w->sock = -1;
	w->state = W_FREE;
}

static void worker_timeout(uv_timer_t *t)
{
	struct sup_worker *w = t->data;

	P.stats.timeouts++;
	plat_log(PLAT_LOG_WARN, "scan_timeout", "worker=%u pid=%d job=%" PRIu64 " after=%us "
	    "fix=\"if legitimate mail is this slow, raise timeout\"",
	    w->id, (int)w->pid, w->job ? w->job->id : 0, P.cfg->timeout);
	worker_set_fault(w, IPC_CODE_TIMEOUT, "scan timed out after %u s", P.cfg->timeout);
	if (w->job != NULL)
		w->job->blame = 1;
	worker_event(w, EV_TIMEOUT);
}

static void worker_readable(uv_poll_t *h, int status, int events);

static void worker_watch(struct sup_worker *w)
{
	w->pidfd = (int)syscall(SYS_pidfd_open, w->pid, 0);
	w->started_ns = plat_now_ns();
	uv_poll_init(P.loop, &w->poll, w->sock);
	w->poll.data = w;
	w->poll_init = 1;
	uv_poll_start(&w->poll, UV_READABLE | UV_DISCONNECT, worker_readable);
	plat_log(PLAT_LOG_INFO, "worker_start", "worker=%u pid=%d", w->id, (int)w->pid);
	if (w->died_ns != 0 && P.nrespawn < sizeof(P.respawn_ns) / sizeof(P.respawn_ns[0]))
		P.respawn_ns[P.nrespawn++] = plat_now_ns() - w->died_ns;
	w->died_ns = 0;
	if (P.ready_cb) {
		/* Serving from the first worker on: the database is loaded. */
		void (*cb)(void) = P.ready_cb;
		P.ready_cb = NULL;
		cb();
	}
}

static void worker_send_job(struct sup_worker *w)
{
	struct ipc_job m = { .seq = ++P.next_seq, .len = w->job->len };

	w->job->t_dispatch = plat_now_ns();
	w->seq = m.seq;
	w->chan->result.seq = 0;
	/* The one copy: gather buffer to the worker's data area. */
	if (m.len > 0)
		memcpy(w->data.base, w->job->buf.base, m.len);
	ipc_gather_put(&w->job->buf);
	if (ipc_job_send(w->sock, &m) < 0) {
		/* Its socket is broken, so it is dead: the exit report will say how. */
		worker_set_fault(w, IPC_CODE_CRASH, "scanner process ended before the scan");
		worker_event(w, EV_HANGUP);
		return;
	}
	uv_timer_start(&w->timer, worker_timeout, (uint64_t)P.cfg->timeout * 1000, 0);
}

static void worker_answer_result(struct sup_worker *w)
{
	struct sup_job *job = w->job;
	struct sup_verdict v;

	/* The worker's scan time is informational: clamp, never trust. */
	uint64_t total = plat_now_ns() - job->t_dispatch;
	uint64_t inside = w->result.scan_ns < total ? w->result.scan_ns : total;
	P.overhead_ns[P.noverhead++ % (sizeof(P.overhead_ns) / sizeof(P.overhead_ns[0]))] = total - inside;
	memset(&v, 0, sizeof(v));
	v.status = (enum ipc_status)w->result.status;
	v.engine_code = w->result.engine_code;
	memcpy(v.name, w->result.name, sizeof(v.name));
	if (v.status == IPC_ERROR)
		snprintf(v.reason, sizeof(v.reason), "%s", ipc_engine_strerror(w->result.engine_code));
	w->job = NULL;
	w->jobs++;
	job_finish(job, &v, w);
}

static void worker_answer_fault(struct sup_worker *w)
{
	struct sup_job *job = w->job;
	struct sup_verdict v;

	if (job == NULL)
		return;
	w->job = NULL;
	if (w->fault[0] == '\0')
		worker_set_fault(w, IPC_CODE_CRASH, "scanner process ended during the scan");
	verdict_error(&v, w->fault_code, "%s", w->fault);
	job_finish(job, &v, w);
}

/* Runs the table's actions for one event, in bit order. */
static void worker_event(struct sup_worker *w, enum sup_wevent ev)
{
	struct sup_wtransition t = sup_wl_next(w->state, ev);
	unsigned a = t.actions;

	if (!t.valid) {
		plat_log(PLAT_LOG_DEBUG, "worker_event_ignored", "worker=%u state=%s event=%s",
		    w->id, sup_wl_state_name(w->state), sup_wl_event_name(ev));
		return;
	}
	if (w->died_ns == 0 && (t.next == W_DYING || (t.next == W_CLOSING && w->state != W_DYING)))
		w->died_ns = plat_now_ns();
	w->state = t.next;
	if (a & A_STOP_TIMER)
		uv_timer_stop(&w->timer);
	if ((a & A_STOP_WATCH) && w->poll_init)
		uv_poll_stop(&w->poll);
	if (a & A_KILL) {
		if (w->pidfd >= 0)
			syscall(SYS_pidfd_send_signal, w->pidfd, SIGKILL, NULL, 0);
		else if (w->pid > 0)
			kill(w->pid, SIGKILL);
	}
	if ((a & A_CLOSE_CHANNEL) && w->sock >= 0)
		shutdown(w->sock, SHUT_RDWR);  /* the worker reads EOF and exits 0 */
	if (a & A_ANSWER_RESULT)
		worker_answer_result(w);
	if (a & A_ANSWER_FAULT)
		worker_answer_fault(w);
	if (a & A_RELEASE) {
		uv_timer_stop(&w->timer);
		if (w->poll_init)
			uv_close((uv_handle_t *)&w->poll, worker_closed);
		else
			worker_closed((uv_handle_t *)&w->poll);
	}
	if (a & A_REQUEST_FORK)
		worker_request_fork(w);
	if (a & A_WATCH)
		worker_watch(w);
	if (a & A_SEND_JOB)
		worker_send_job(w);
	if (a & A_RESPAWN) {
		if (P.host.state == H_READY && !P.closing)
			worker_event(w, EV_SPAWN);
	}
	if (a & A_DISPATCH)
		dispatch();
	check_drained();
}

static void worker_readable(uv_poll_t *h, int status, int events)
{
	struct sup_worker *w = h->data;
	unsigned char buf[16];
	uint64_t woke;
	char err[128];
	ssize_t n;

	(void)events;
	if (status < 0) {
		worker_event(w, EV_HANGUP);
		return;
	}
	n = recv(w->sock, buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		worker_event(w, EV_HANGUP);
		return;
	}
	if (w->state != W_BUSY || n != (ssize_t)sizeof(uint64_t)) {
		snprintf(err, sizeof(err), "unexpected %zd-byte message while %s", n, sup_wl_state_name(w->state));
		goto malformed;
	}
	memcpy(&woke, buf, sizeof(woke));
	if (woke != w->seq) {
		snprintf(err, sizeof(err), "wake-up for sequence %" PRIu64 ", expected %" PRIu64, woke, w->seq);
		goto malformed;
	}
	/* Copy out once, then validate the copy: the worker may still write. */
	memcpy(&w->result, (const void *)&w->chan->result, sizeof(w->result));
	if (ipc_result_validate(&w->result, w->seq, err, sizeof(err)) < 0)
		goto malformed;
	if (P.cfg->max_jobs_per_worker > 0 && w->jobs + 1 >= P.cfg->max_jobs_per_worker) {
		w->retiring = 1;
		worker_event(w, EV_RESULT_LAST);
	} else
		worker_event(w, EV_RESULT);
	return;
malformed:
	plat_log(PLAT_LOG_WARN, "worker_malformed", "worker=%u pid=%d job=%" PRIu64 " reason=\"%s\"",
	    w->id, (int)w->pid, w->job ? w->job->id : 0, err);
	worker_set_fault(w, IPC_CODE_MALFORMED, "malformed result from scanner: %s", err);
	worker_event(w, EV_MALFORMED);
}

/* The host reaped it: name the cause, from the status and the channel. */
static void worker_exited(struct sup_worker *w, int status)
{
	uint64_t vseq = w->chan ? __atomic_load_n(&w->chan->violation.seq, __ATOMIC_ACQUIRE) : 0;
	int killed_by_us = w->fault[0] != '\0';

	w->exit_status = status;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS && vseq != 0 && w->chan != NULL) {
		char name[64];
		priv_syscall_name(w->chan->violation.sysno, name, sizeof(name));
		P.stats.violations++;
		if (w->job != NULL)
			w->job->blame = 1;
		plat_log(PLAT_LOG_WARN, "sandbox_violation", "worker=%u pid=%d syscall=%s job=%" PRIu64,
		    w->id, (int)w->pid, name, w->job ? w->job->id : 0);
		worker_set_fault(w, IPC_CODE_VIOLATION, "sandbox violation: syscall %s", name);
	} else if (WIFSIGNALED(status) && !(WTERMSIG(status) == SIGKILL && killed_by_us)) {
		int sig = WTERMSIG(status);
		P.stats.worker_crashes++;
		/*
		 * Faults the scan raised itself count towards poisoning its content;
		 * a SIGKILL or SIGTERM from outside (an operator, a test) does not.
		 */
		if (w->job != NULL && (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL ||
		    sig == SIGFPE || sig == SIGABRT || sig == SIGTRAP || sig == SIGXCPU))
			w->job->blame = 1;
		plat_log(PLAT_LOG_WARN, "worker_crash", "worker=%u pid=%d signal=%s job=%" PRIu64,
		    w->id, (int)w->pid, plat_signame(WTERMSIG(status)), w->job ? w->job->id : 0);
		worker_set_fault(w, IPC_CODE_CRASH, "scanner crashed: %s", plat_signame(WTERMSIG(status)));
	} else if (WIFEXITED(status) && w->retiring && WEXITSTATUS(status) == 0) {
		P.stats.retired++;
		plat_log(PLAT_LOG_INFO, "worker_retire", "worker=%u pid=%d jobs=%" PRIu64, w->id, (int)w->pid, w->jobs);
	} else if (WIFEXITED(status) && !killed_by_us) {
		P.stats.worker_crashes++;
		plat_log(PLAT_LOG_WARN, "worker_exit", "worker=%u pid=%d status=%d job=%" PRIu64,
		    w->id, (int)w->pid, WEXITSTATUS(status), w->job ? w->job->id : 0);
		worker_set_fault(w, IPC_CODE_CRASH, "scanner exited with status %d", WEXITSTATUS(status));
		if (w->job != NULL)
			w->job->blame = 1;
	} else {
		plat_log(PLAT_LOG_INFO, "worker_exit", "worker=%u pid=%d cause=\"%s\"", w->id, (int)w->pid, w->fault);
	}
	worker_event(w, EV_EXIT);
}

static struct sup_worker *worker_by_id(uint32_t id)
{
	for (unsigned i = 0; i < P.nworkers; i++)
		if (P.workers[i].state != W_FREE && P.workers[i].id == id)
			return &P.workers[i];
	return NULL;
}

static void dispatch(void)
{
	for (unsigned i = 0; i < P.nworkers && P.qlen > 0; i++) {
		struct sup_worker *w = &P.workers[i];
		if (w->state != W_IDLE)
			continue;
		w->job = queue_pop();
		w->job->worker = w;
		worker_event(w, EV_JOB);
	}
}

/* ------------------------------------------------------------------- host */

static void host_closed(uv_handle_t *h)
{
	(void)h;
}

static void host_reset_workers(const char *reason)
{
	for (unsigned i = 0; i < P.nworkers; i++) {
		struct sup_worker *w = &P.workers[i];
		if (w->state == W_FREE || w->state == W_CLOSING)
			continue;
		worker_set_fault(w, IPC_CODE_CRASH, "%s", reason);
		worker_event(w, EV_HOST_LOST);
	}
}

static void restart_timer_cb(uv_timer_t *t)
{
	(void)t;
	host_start();
}

static void host_schedule_restart(int failed)
{
	unsigned delay = 0;

	if (P.closing)
		return;
	if (failed) {
		delay = P.backoff_ms;
		P.backoff_ms = P.backoff_ms * 2 > SUP_BACKOFF_MAX_MS ? SUP_BACKOFF_MAX_MS : P.backoff_ms * 2;
	}
	uv_timer_start(&P.restart_timer, restart_timer_cb, delay, 0);
}

static void host_exit_cb(uv_process_t *proc, int64_t exit_status, int term_signal)
{
	int was_ready = P.host.state == H_READY;
	char reason[IPC_TEXT_MAX];

	(void)proc;
	if (P.host.fatal[0] != '\0')
		snprintf(reason, sizeof(reason), "%s", P.host.fatal);
	else if (term_signal)
		snprintf(reason, sizeof(reason), "scanner host killed by %s", plat_signame(term_signal));
	else
		snprintf(reason, sizeof(reason), "scanner host exited with status %d", (int)exit_status);

	P.host.state = H_EXITING;
	if (P.host.poll_open) {
		uv_poll_stop(&P.host.ctl_poll);
		uv_close((uv_handle_t *)&P.host.ctl_poll, host_closed);
		P.host.poll_open = 0;
	}
	if (P.host.ctl >= 0)
		close(P.host.ctl);
	P.host.ctl = -1;
	uv_close((uv_handle_t *)&P.host.proc, host_closed);
	P.host.proc_open = 0;
	host_reset_workers("scanner host exited during the scan");
	P.host.state = H_NONE;

	if (P.closing)
		return;
	P.stats.host_restarts++;
	if (was_ready) {
		plat_log(PLAT_LOG_WARN, "host_exit", "pid=%d reason=\"%s\" action=restart", (int)P.host.pid, reason);
		P.start_failed = 0;
		host_schedule_restart(0);
	} else {
		P.start_failed = 1;
		snprintf(P.last_failure, sizeof(P.last_failure), "%s", reason);
		plat_log(PLAT_LOG_ERROR, "host_failed", "reason=\"%s\" retry_in=%ums "
		    "fix=\"check scanner_path, database and user in the config; run avwarden --check-config\"",
		    reason, P.backoff_ms);
		fail_queue("no scanner available: scanner host failed to start");
		host_schedule_restart(1);
	}
}

static void host_ready(const struct ipc_msg *m)
{
	char engine[64] = "?", missing[64] = "?";
	const char *p;

	if (P.host.state != H_STARTING)
		return;
	if ((p = strstr(m->text, "engine=")) != NULL)
		sscanf(p, "engine=%63s", engine);
	if ((p = strstr(m->text, "missing=")) != NULL)
		sscanf(p, "missing=%63s", missing);
	snprintf(P.host.engine, sizeof(P.host.engine), "%s", engine);
	P.host.sigs = m->a > 0 ? (unsigned)m->a : 0;
	P.host.state = H_READY;
	P.start_failed = 0;
	P.backoff_ms = SUP_BACKOFF_MIN_MS;
	plat_log(PLAT_LOG_INFO, "host_ready", "pid=%d signatures=%u engine=%s load_ms=%.0f",
	    (int)P.host.pid, P.host.sigs, engine, (double)(plat_now_ns() - P.host.started_ns) / 1e6);
	if (strcmp(missing, "none") != 0)
		plat_log(PLAT_LOG_WARN, "sandbox_layer_missing", "layers=%s "
		    "fix=\"enable unprivileged user namespaces / Landlock in the kernel for full containment\"",
		    missing);
	for (unsigned i = 0; i < P.nworkers; i++)
		worker_event(&P.workers[i], EV_SPAWN);
}

static void host_readable(uv_poll_t *h, int status, int events)
{
	struct ipc_msg m;
	int fds[2];
	size_t nfds;
	int rc;

	(void)h;
	(void)events;
	if (status < 0)
		return;
	for (;;) {
		nfds = 2;
		rc = ipc_msg_recv(P.host.ctl, &m, fds, &nfds);
		if (rc == -EAGAIN)
			return;
		if (rc <= 0) {
			/* EOF or garbage: the host is finished; exit_cb does the rest. */
			if (rc < 0)
				plat_log(PLAT_LOG_WARN, "host_malformed", "pid=%d reason=\"%s\"", (int)P.host.pid, strerror(-rc));
			uv_poll_stop(&P.host.ctl_poll);
			uv_process_kill(&P.host.proc, SIGKILL);
			return;
		}
		for (size_t i = 0; i < nfds; i++)
			close(fds[i]);  /* the host never sends descriptors */
		switch (m.type) {
		case IPC_MSG_READY:
			host_ready(&m);
			break;
		case IPC_MSG_FATAL:
			snprintf(P.host.fatal, sizeof(P.host.fatal), "%s", m.text);
			break;
		case IPC_MSG_LOG:
			plat_log(PLAT_LOG_INFO, "host_log", "pid=%d text=\"%s\"", (int)P.host.pid, m.text);
			break;
		case IPC_MSG_WORKER_UP: {
			struct sup_worker *w = worker_by_id(m.worker);
			if (w != NULL && w->state == W_SPAWNING && m.pid > 0) {
				w->pid = m.pid;
				worker_event(w, EV_UP);
			}
			break;
		}
		case IPC_MSG_WORKER_EXIT: {
			struct sup_worker *w = worker_by_id(m.worker);
			if (w == NULL)
				break;
			if (w->state == W_SPAWNING) {
				plat_log(PLAT_LOG_WARN, "worker_spawn", "worker=%u reason=\"%s\"", w->id, m.text);
				worker_event(w, EV_FORK_FAILED);
				break;
			}
			if (m.pid == w->pid)
				worker_exited(w, m.a);
			break;
		}
		default:
			plat_log(PLAT_LOG_WARN, "host_malformed", "pid=%d reason=\"unexpected message type %u\"",
			    (int)P.host.pid, m.type);
			uv_process_kill(&P.host.proc, SIGKILL);
			return;
		}
	}
}

static void host_start(void)
{
	char mem_s[32], tmp_s[32], fsize_s[32], ssize_s[32], rec_s[32], files_s[32], time_s[32];
	char *args[24];
	char *env[] = { "PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C", NULL };
	uv_stdio_container_t stdio[4];
	uv_process_options_t o;
	struct priv_spawn_limits lim = { .nofile = 1024 };
	int sp[2], rc;
	size_t a = 0;

	const struct sup_config *c = P.cfg;

	if (P.closing || P.host.state != H_NONE)
		return;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		log_warn("host_failed", "step=socketpair");
		host_schedule_restart(1);
		return;
	}
	snprintf(tmp_s, sizeof(tmp_s), "%" PRIu64, c->scanner_tmp_size);
	snprintf(fsize_s, sizeof(fsize_s), "%" PRIu64, c->max_extract_size);
	snprintf(ssize_s, sizeof(ssize_s), "%" PRIu64, c->max_cumulative_extract_size);
	snprintf(rec_s, sizeof(rec_s), "%u", c->max_extract_depth);
	snprintf(files_s, sizeof(files_s), "%u", c->max_file_count);
	snprintf(time_s, sizeof(time_s), "%u", c->max_extract_time * 1000);
	snprintf(mem_s, sizeof(mem_s), "%" PRIu64, c->max_worker_memory);
	args[a++] = c->scanner_path;
	args[a++] = "--database";
	args[a++] = c->database;
	args[a++] = "--tmp-size";
	args[a++] = tmp_s;
	args[a++] = "--max-filesize";
	args[a++] = fsize_s;
	args[a++] = "--max-scansize";
	args[a++] = ssize_s;
	args[a++] = "--max-recursion";
	args[a++] = rec_s;
	args[a++] = "--max-files";
	args[a++] = files_s;
	args[a++] = "--max-scantime";
	args[a++] = time_s;
	args[a++] = "--worker-memory";
	args[a++] = mem_s;
	args[a] = NULL;

	memset(stdio, 0, sizeof(stdio));
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_IGNORE;
	stdio[2].flags = UV_INHERIT_FD;
	stdio[2].data.fd = STDERR_FILENO;
	stdio[3].flags = UV_INHERIT_FD;
	stdio[3].data.fd = sp[1];
	memset(&o, 0, sizeof(o));
	o.file = c->scanner_path;
	o.args = args;
	o.env = env;
	o.cwd = "/";
	o.stdio = stdio;
	o.stdio_count = 4;
	o.exit_cb = host_exit_cb;
	if (P.setid) {
		o.flags = UV_PROCESS_SETUID | UV_PROCESS_SETGID;
		o.uid = P.uid;
		o.gid = P.gid;
	}
	memset(&P.host, 0, sizeof(P.host));
	P.host.ctl = -1;
	P.host.started_ns = plat_now_ns();
	rc = uv_spawn(P.loop, &P.host.proc, &o);
	close(sp[1]);
	if (rc < 0) {
		close(sp[0]);
		uv_close((uv_handle_t *)&P.host.proc, host_closed);
		P.start_failed = 1;
		snprintf(P.last_failure, sizeof(P.last_failure), "cannot execute scanner_path %s: %s",
		    c->scanner_path, uv_strerror(rc));
		plat_log(PLAT_LOG_ERROR, "host_failed", "reason=\"%s\" retry_in=%ums "
		    "fix=\"point scanner_path at avwarden-scanner (or a wrapper that execs it), executable by user %s\"",
		    P.last_failure, P.backoff_ms, c->user);
		fail_queue("no scanner available: scanner host failed to start");
		host_schedule_restart(1);
		return;
	}
	P.host.proc_open = 1;
	P.host.pid = P.host.proc.pid;
	P.host.ctl = sp[0];
	P.host.state = H_STARTING;
	uv_poll_init(P.loop, &P.host.ctl_poll, P.host.ctl);
	P.host.poll_open = 1;
	uv_poll_start(&P.host.ctl_poll, UV_READABLE | UV_DISCONNECT, host_readable);
	/*
	 * The host applies these limits to itself before anything else: libuv
	 * has no pre-exec hook, and prlimit() on a process of another uid needs
	 * CAP_SYS_RESOURCE, which a container's root may not have.
	 */
	struct ipc_msg m = { .type = IPC_MSG_START, .a = (int32_t)lim.nofile };
	if (ipc_msg_send(P.host.ctl, &m, NULL, 0) < 0)
		uv_process_kill(&P.host.proc, SIGKILL);
	plat_log(PLAT_LOG_INFO, "host_start", "pid=%d scanner_path=%s database=%s",
	    (int)P.host.pid, c->scanner_path, c->database);
}

/* ------------------------------------------------------------------- API */

int sup_pool_init(uv_loop_t *loop, const struct sup_config *cfg, void (*ready_cb)(void))
{
	memset(&P, 0, sizeof(P));
	P.loop = loop;
	P.cfg = cfg;
	P.ready_cb = ready_cb;
	P.backoff_ms = SUP_BACKOFF_MIN_MS;
	P.host.ctl = -1;
	P.nworkers = cfg->max_concurrency;
	P.workers = calloc(P.nworkers, sizeof(*P.workers));
	if (P.workers == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < P.nworkers; i++) {
		P.workers[i].slot = i;
		P.workers[i].sock = -1;
		P.workers[i].pidfd = -1;
		P.workers[i].data.fd = -1;
		uv_timer_init(loop, &P.workers[i].timer);
		P.workers[i].timer.data = &P.workers[i];
	}
	uv_timer_init(loop, &P.restart_timer);
	uv_timer_init(loop, &P.queue_timer);
	if (sup_poison_init(1024, cfg->poison_threshold, cfg->poison_ttl) < 0)
		return -ENOMEM;

	if (geteuid() == 0) {
		int rc = priv_lookup_user(cfg->user, &P.uid, &P.gid);
		if (rc < 0)
			return rc;
		if (P.uid == 0)
			return -EPERM;
		P.setid = 1;
	} else {
		plat_log(PLAT_LOG_WARN, "unprivileged", "uid=%d reason=\"not started as root: scanners run as "
		    "this uid, not as user %s\"", (int)geteuid(), cfg->user);
	}
	host_start();
	return 0;
}

void sup_pool_submit(struct sup_job *job)
{
	struct sup_verdict v;

	job->t_submit = plat_now_ns();
	job->worker = NULL;
	if (P.draining || P.closing) {
		verdict_error(&v, IPC_CODE_UNAVAILABLE, "avwarden is shutting down");
		job_finish(job, &v, NULL);
		return;
	}
	if (P.host.state != H_READY && P.start_failed) {
		/* Fail fast: a tempfail now beats a hang until the client times out. */
		verdict_error(&v, IPC_CODE_UNAVAILABLE, "no scanner available: %.100s", P.last_failure);
		job_finish(job, &v, NULL);
		return;
	}
	if (sup_poison_active()) {
		const struct sup_poison_entry *pe;
		job_hash(job, NULL);
		if (job->have_hash && (pe = sup_poison_lookup(job->hash, job->t_submit)) != NULL) {
			P.stats.poison_hits++;
			verdict_error(&v, pe->code, "poison message: %.100s, %u times; not scanned again for now",
			    pe->reason, pe->faults);
			ipc_gather_put(&job->buf);
			job->done(job, &v);
			return;
		}
	}
	if (P.qlen >= P.cfg->max_queue) {
		unsigned idle = 0;
		for (unsigned i = 0; i < P.nworkers; i++)
			idle += P.workers[i].state == W_IDLE;
		if (idle == 0) {
			P.stats.rejected_queue_full++;
			plat_log(PLAT_LOG_WARN, "queue_full", "max_queue=%u max_concurrency=%u "
			    "fix=\"raise max_concurrency if the machine has cores to spare, or max_queue\"",
			    P.cfg->max_queue, P.cfg->max_concurrency);
			verdict_error(&v, IPC_CODE_QUEUE_FULL, "queue full (max_queue %u)", P.cfg->max_queue);
			job_finish(job, &v, NULL);
			return;
		}
	}
	queue_push(job);
	dispatch();
}

void sup_pool_drain(void (*cb)(void))
{
	P.draining = 1;
	P.drain_cb = cb;
	if (P.host.state != H_READY)
		fail_queue("avwarden is shutting down");
	check_drained();
}

void sup_pool_close(void)
{
	P.closing = 1;
	uv_timer_stop(&P.restart_timer);
	uv_close((uv_handle_t *)&P.restart_timer, NULL);
	uv_timer_stop(&P.queue_timer);
	uv_close((uv_handle_t *)&P.queue_timer, NULL);
	fail_queue("avwarden is shutting down");
	if (P.host.proc_open)
		uv_process_kill(&P.host.proc, SIGKILL);
	host_reset_workers("avwarden is shutting down");
	if (P.host.poll_open) {
		uv_close((uv_handle_t *)&P.host.ctl_poll, NULL);
		P.host.poll_open = 0;
	}
	for (unsigned i = 0; i < P.nworkers; i++)
		uv_close((uv_handle_t *)&P.workers[i].timer, NULL);
}

void sup_pool_free(void)
{
	sup_poison_free();
	ipc_gather_drain();
	free(P.workers);
	P.workers = NULL;
}

const struct sup_stats *sup_pool_stats(void)
{
	return &P.stats;
}

unsigned sup_pool_signatures(void)
{
	return P.host.state == H_READY ? P.host.sigs : 0;
}

const char *sup_pool_engine_version(void)
{
	return P.host.engine[0] ? P.host.engine : "?";
}

unsigned sup_pool_overhead_samples(uint64_t *out, unsigned n)
{
	unsigned cap = sizeof(P.overhead_ns) / sizeof(P.overhead_ns[0]);
	unsigned have = P.noverhead < cap ? P.noverhead : cap;
	unsigned k = have < n ? have : n;

	memcpy(out, P.overhead_ns, k * sizeof(*out));
	return k;
}

unsigned sup_pool_respawn_samples(uint64_t *out, unsigned n)
{
	unsigned k = P.nrespawn < n ? P.nrespawn : n;

	memcpy(out, P.respawn_ns, k * sizeof(*out));
	return k;
}

size_t sup_pool_queue_depth(void)
{
	return P.qlen;
}

unsigned sup_pool_busy(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < P.nworkers; i++)
		n += P.workers[i].state == W_BUSY;
	return n;
}

unsigned sup_pool_idle(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < P.nworkers; i++)
		n += P.workers[i].state == W_IDLE;
	return n;
}

size_t sup_pool_describe_workers(char *buf, size_t len)
{
	size_t off = 0;
	uint64_t now = plat_now_ns();
	int n;

	n = snprintf(buf, len, "%-8s %-8s %-9s %-8s %s\n", "WORKER", "PID", "STATE", "JOBS", "AGE_S");
	if (n > 0)
		off = (size_t)n < len ? (size_t)n : len;
	for (unsigned i = 0; i < P.nworkers && off < len; i++) {
		struct sup_worker *w = &P.workers[i];
		if (w->state == W_FREE)
			continue;
		n = snprintf(buf + off, len - off, "%-8u %-8d %-9s %-8" PRIu64 " %.1f\n", w->id, (int)w->pid,
		    sup_wl_state_name(w->state), w->jobs,
		    w->started_ns ? (double)(now - w->started_ns) / 1e9 : 0.0);
		if (n < 0)
			break;
		off += (size_t)n < len - off ? (size_t)n : len - off;
	}
	return off;
}
