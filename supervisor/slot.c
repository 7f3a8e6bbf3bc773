/*
 * supervisor/slot.c: a worker slot (see slot.h). The table in lifecycle.c
 * decides; this file carries out the actions, in the table's bit order.
 *
 * Must never trust a byte the worker wrote before it was copied out and
 * validated, never answer a job twice, and never signal a process other
 * than the worker it holds (a pidfd, taken when the parentage was checked).
 */
#define _GNU_SOURCE
#include "slot.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../platform/plat.h"
#include "../privileges/priv.h"
#include "queue.h"
#include "stats.h"
#include "verdicts.h"

/* A retiring worker reads EOF and exits at once; one that does not is killed. */
#define SLOT_RETIRE_GRACE_MS 5000
/* libclamav messages logged per job; the rest are counted, not logged. */
#define SLOT_ENGINE_LOG_PER_JOB 8

static struct {
	uv_loop_t *loop;
	const struct sup_config *cfg;
	uint32_t next_id;
	uint64_t next_seq;
} S;

static void slot_event(struct sup_slot *s, enum sup_wevent ev);

void sup_slots_configure(uv_loop_t *loop, const struct sup_config *cfg)
{
	S.loop = loop;
	S.cfg = cfg;
}

static void slot_set_fault(struct sup_slot *s, int32_t code, const char *fmt, ...) PLAT_PRINTF(3, 4);

/* First cause wins: later events (the SIGKILL we sent) do not overwrite it. */
static void slot_set_fault(struct sup_slot *s, int32_t code, const char *fmt, ...)
{
	va_list ap;

	if (s->fault[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(s->fault, sizeof(s->fault), fmt, ap);
	va_end(ap);
	s->fault_code = code;
}

static void reset_worker_fields(struct sup_slot *s)
{
	uint64_t died = s->died_ns;

	memset(&s->id, 0, offsetof(struct sup_slot, timer) - offsetof(struct sup_slot, id));
	s->sock = -1;
	s->pidfd = -1;
	s->data.fd = -1;
	s->died_ns = died;
}

static void timer_closed(uv_handle_t *h)
{
	struct sup_slot *s = h->data;

	s->handles--;
	s->ops->handle_closed(s);
}

int sup_slot_init(struct sup_slot *s, void *owner, const struct sup_slot_ops *ops,
    uint32_t gen_id, unsigned index)
{
	int rc;

	memset(s, 0, sizeof(*s));
	s->owner = owner;
	s->ops = ops;
	s->gen_id = gen_id;
	s->index = index;
	reset_worker_fields(s);
	if ((rc = uv_timer_init(S.loop, &s->timer)) < 0)
		return rc;
	s->handles = 1;
	s->timer.data = s;
	s->poll.data = s;
	return 0;
}

void sup_slot_close(struct sup_slot *s)
{
	uv_close((uv_handle_t *)&s->timer, timer_closed);
}

int sup_slot_live(const struct sup_slot *s)
{
	return s->state != W_FREE;
}

/* ------------------------------------------------------------ actions */

/* The slot's resources go; EV_CLOSED frees it. */
static void release_done(struct sup_slot *s)
{
	if (s->sock >= 0)
		close(s->sock);
	if (s->pidfd >= 0)
		close(s->pidfd);
	ipc_chan_unmap(s->chan);
	ipc_data_free(&s->data);
	s->sock = -1;
	s->pidfd = -1;
	s->chan = NULL;
	s->pid = 0;
	s->ns_pid = 0;
	slot_event(s, EV_CLOSED);
}

static void poll_closed(uv_handle_t *h)
{
	struct sup_slot *s = h->data;

	s->poll_open = 0;
	s->handles--;
	release_done(s);
	s->ops->handle_closed(s);
}

static void release(struct sup_slot *s)
{
	(void)uv_timer_stop(&s->timer);
	if (s->poll_open)
		uv_close((uv_handle_t *)&s->poll, poll_closed);
	else
		release_done(s);  /* never got as far as a poll handle */
}

/* Through the pidfd taken when its parentage was checked, so a pid reused
 * since cannot be hit. Without pidfds (kernels before 5.3, valgrind), the
 * pid, re-checked to still be the host's child. */
static void kill_worker(struct sup_slot *s)
{
	if (s->pidfd >= 0)
		(void)syscall(SYS_pidfd_send_signal, s->pidfd, SIGKILL, NULL, 0);
	else if (s->pid > 1 && plat_proc_ppid(s->pid) == (long)s->host_pid)
		(void)kill(s->pid, SIGKILL);
}

static void grace_expired(uv_timer_t *t);

static void close_channel(struct sup_slot *s)
{
	if (s->sock >= 0)
		(void)shutdown(s->sock, SHUT_RDWR);  /* the worker reads EOF and exits 0 */
	(void)uv_timer_start(&s->timer, grace_expired, SLOT_RETIRE_GRACE_MS, 0);
}

static void answer_by(const struct sup_slot *s, struct sup_answer_by *by)
{
	by->gen = s->gen_id;
	by->serving = s->ops->serving(s);
	by->worker = s->id;
}

static void answer(struct sup_slot *s, struct sup_job *job, const struct sup_verdict *v)
{
	struct sup_answer_by by;

	/* The bytes are still in the data area: hash them if memory wants them. */
	if (!job->have_hash && (job->blame || sup_verdicts_caching()) && s->data.base != NULL)
		sup_verdicts_hash(job, s->data.base);
	/* A large message's pages go back to the system, not to the next job. */
	if (job->len > IPC_GATHER_FIRST) {
		ipc_data_trim(&s->data, IPC_GATHER_FIRST, job->len);
		if (s->dirty > IPC_GATHER_FIRST)
			s->dirty = IPC_GATHER_FIRST;  /* the rest reads as zeros now */
	}
	answer_by(s, &by);
	s->job = NULL;
	sup_job_answer(job, v, &by);
}

static void answer_result(struct sup_slot *s)
{
	struct sup_job *job = s->job;
	struct sup_verdict v;
	/* The worker's scan time is informational: clamp, never trust. */
	uint64_t total = plat_now_ns() - job->t_dispatch;
	uint64_t inside = s->result.scan_ns < total ? s->result.scan_ns : total;

	sup_stats_overhead(total - inside);
	memset(&v, 0, sizeof(v));
	v.status = (enum ipc_status)s->result.status;
	v.engine_code = s->result.engine_code;
	memcpy(v.name, s->result.name, sizeof(v.name));
	job->nmore = s->result.nmore;
	memcpy(job->more, s->result.more, sizeof(job->more[0]) * job->nmore);
	if (v.status == IPC_ERROR)
		snprintf(v.reason, sizeof(v.reason), "%s", ipc_engine_strerror(s->result.engine_code));
	s->jobs++;
	s->answered++;
	answer(s, job, &v);
}

static void answer_fault(struct sup_slot *s)
{
	struct sup_verdict v;

	if (s->job == NULL)
		return;
	if (s->fault[0] == '\0')
		slot_set_fault(s, IPC_CODE_CRASH, "scanner process ended during the scan");
	sup_verdict_error(&v, s->fault_code, "%s", s->fault);
	/* A worker that crashed on its job still shows the host can serve. */
	if (!s->host_lost)
		s->answered++;
	answer(s, s->job, &v);
}

static void drop_job(struct sup_slot *s)
{
	if (s->job != NULL) {
		s->job->slot = NULL;
		s->job->where = SUP_JOB_OUT;
		ipc_gather_put(&s->job->buf);
	}
	s->job = NULL;
	slot_set_fault(s, IPC_CODE_CRASH, "scan cancelled: its client went away");
}

/* Channel, data area and job socket for a new worker; SPAWN to the host. */
static void request_fork(struct sup_slot *s)
{
	struct ipc_spawn m;
	int sp[2] = { -1, -1 }, chan_fd = -1, ro_fd = -1, rc = -1;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0 ||
	    (chan_fd = ipc_chan_create()) < 0 || (s->chan = ipc_chan_map(chan_fd)) == NULL ||
	    ipc_data_create(&s->data, sup_config_job_max(S.cfg) + SUP_INSTREAM_SLACK) < 0 ||
	    (ro_fd = ipc_data_ro_fd(&s->data)) < 0) {
		log_warn("worker_spawn", "slot=%u step=channel", s->index);
	} else {
		int fds[IPC_SPAWN_FDS] = { sp[1], chan_fd, ro_fd };
		s->sock = sp[0];
		sp[0] = -1;
		memset(&m, 0, sizeof(m));
		m.worker = s->id;
		m.slot = s->index;
		rc = ipc_msg_send(s->host_ctl, IPC_MSG_SPAWN, &m, fds, IPC_SPAWN_FDS);
	}
	if (sp[0] >= 0)
		close(sp[0]);
	if (sp[1] >= 0)
		close(sp[1]);
	if (chan_fd >= 0)
		close(chan_fd);
	if (ro_fd >= 0)
		close(ro_fd);
	/* Out of descriptors or memory, or the host is going away (its exit
	 * resets every slot): as a failed fork, so the retry backs off. */
	if (rc < 0)
		sup_slot_fork_failed(s, "cannot set up the worker's channel");
}

static void readable(uv_poll_t *h, int status, int events);

/* The worker is up (its pidfd open, its parentage checked): poll its socket. */
static void watch(struct sup_slot *s)
{
	int rc;

	s->started_ns = plat_now_ns();
	if ((rc = uv_poll_init(S.loop, &s->poll, s->sock)) < 0) {
		log_warnx("worker_watch", "worker=%u error=\"%s\"", s->id, uv_strerror(rc));
		slot_set_fault(s, IPC_CODE_CRASH, "cannot watch the scanner: %s", uv_strerror(rc));
		slot_event(s, EV_HANGUP);
		return;
	}
	s->poll.data = s;
	s->poll_open = 1;
	s->handles++;
	if ((rc = uv_poll_start(&s->poll, UV_READABLE | UV_DISCONNECT, readable)) < 0) {
		slot_set_fault(s, IPC_CODE_CRASH, "cannot watch the scanner: %s", uv_strerror(rc));
		slot_event(s, EV_HANGUP);
		return;
	}
	log_info("worker_start", "worker=%u pid=%d gen=%u", s->id, (int)s->pid, s->gen_id);
	if (s->died_ns != 0)
		sup_stats_respawn(plat_now_ns() - s->died_ns);
	s->died_ns = 0;
}

static void scan_timeout(uv_timer_t *t);

static void send_job(struct sup_slot *s)
{
	struct sup_job *job = s->job;
	struct ipc_job m = { .seq = ++S.next_seq, .len = job->len, .flags = job->allmatch ? IPC_JOB_ALLMATCH : 0 };

	job->t_dispatch = plat_now_ns();
	s->seq = m.seq;
	s->job_logs = 0;
	s->chan->result.seq = 0;
	/* The one copy: gather buffer to the worker's data area. */
	if (m.len > 0)
		memcpy(s->data.base, job->buf.base, m.len);
	/* A worker sees only its current job: no tail of the previous one. */
	if (s->dirty > m.len)
		memset(s->data.base + m.len, 0, s->dirty - m.len);
	s->dirty = m.len;
	ipc_gather_put(&job->buf);
	if (ipc_job_send(s->sock, &m) < 0) {
		/* Its socket is broken, so it is dead: the exit report will say how. */
		slot_set_fault(s, IPC_CODE_CRASH, "scanner process ended before the scan");
		slot_event(s, EV_HANGUP);
		return;
	}
	(void)uv_timer_start(&s->timer, scan_timeout, (uint64_t)S.cfg->timeout * 1000, 0);
}

/* Runs the table's actions for one event, in bit order. */
static void slot_event(struct sup_slot *s, enum sup_wevent ev)
{
	struct sup_wtransition t = sup_wl_next(s->state, ev);
	unsigned a = t.actions;

	if (!t.valid) {
		log_debug("worker_event_ignored", "worker=%u state=%s event=%s",
		    s->id, sup_wl_state_name(s->state), sup_wl_event_name(ev));
		return;
	}
	if (s->died_ns == 0 && (t.next == W_DYING || (t.next == W_CLOSING && s->state != W_DYING)))
		s->died_ns = plat_now_ns();
	s->state = t.next;
	if (a & A_STOP_TIMER)
		(void)uv_timer_stop(&s->timer);
	if ((a & A_STOP_WATCH) && s->poll_open)
		(void)uv_poll_stop(&s->poll);
	if (a & A_KILL)
		kill_worker(s);
	if (a & A_CLOSE_CHANNEL)
		close_channel(s);
	if (a & A_ANSWER_RESULT)
		answer_result(s);
	if (a & A_ANSWER_FAULT)
		answer_fault(s);
	if (a & A_DROP_JOB)
		drop_job(s);
	if (a & A_RELEASE)
		release(s);
	if (a & A_REQUEST_FORK)
		request_fork(s);
	if (a & A_WATCH)
		watch(s);
	if (a & A_SEND_JOB)
		send_job(s);
	if (a & A_IDLE)
		s->ops->idle(s);
	if (a & A_FREED)
		s->ops->freed(s, s->fork_failed);
}

/* ------------------------------------------------------------- events */

static void scan_timeout(uv_timer_t *t)
{
	struct sup_slot *s = t->data;

	sup_counters.timeouts++;
	log_warnx("scan_timeout", "worker=%u pid=%d job=%" PRIu64 " after=%us "
	    "fix=\"if legitimate mail is this slow, raise timeout\"",
	    s->id, (int)s->pid, s->job ? s->job->id : 0, S.cfg->timeout);
	slot_set_fault(s, IPC_CODE_TIMEOUT, "scan timed out after %u s", S.cfg->timeout);
	if (s->job != NULL)
		s->job->blame = 1;  /* observed by our own timer */
	slot_event(s, EV_TIMEOUT);
}

/* A retiring worker that has not exited after the grace period is killed. */
static void grace_expired(uv_timer_t *t)
{
	struct sup_slot *s = t->data;

	log_warnx("worker_retire_timeout", "worker=%u pid=%d after_ms=%u action=kill",
	    s->id, (int)s->pid, SLOT_RETIRE_GRACE_MS);
	slot_set_fault(s, IPC_CODE_CRASH, "scanner did not exit when retired");
	slot_event(s, EV_TIMEOUT);
}

static enum plat_log_level engine_level(int32_t level)
{
	return level == IPC_LOG_ERROR ? PLAT_LOG_ERROR : level == IPC_LOG_WARN ? PLAT_LOG_WARN : PLAT_LOG_INFO;
}

/* libclamav's own words, tagged; a flood from one scan is capped. */
static void engine_log(struct sup_slot *s, const struct ipc_wlog *l)
{
	if (s->job_logs++ < SLOT_ENGINE_LOG_PER_JOB) {
		plat_log(engine_level(l->level), "engine_log", "source=libclamav worker=%u job=%" PRIu64 " text=\"%s\"",
		    s->id, s->job ? s->job->id : 0, l->text);
		return;
	}
	sup_counters.engine_logs_dropped++;
	if (s->job_logs == SLOT_ENGINE_LOG_PER_JOB + 1)
		log_info("engine_log_capped", "worker=%u job=%" PRIu64 " limit=%u "
		    "reason=\"further libclamav messages for this scan are counted, not logged\"",
		    s->id, s->job ? s->job->id : 0, SLOT_ENGINE_LOG_PER_JOB);
}

static void malformed(struct sup_slot *s, const char *err)
{
	log_warnx("worker_malformed", "worker=%u pid=%d job=%" PRIu64 " reason=\"%s\"",
	    s->id, (int)s->pid, s->job ? s->job->id : 0, err);
	slot_set_fault(s, IPC_CODE_MALFORMED, "malformed result from scanner: %s", err);
	slot_event(s, EV_MALFORMED);
}

/* DONE for the job in hand: copy the result out once, then validate the copy
 * (the worker may still be writing the shared block). */
static void result_ready(struct sup_slot *s, uint64_t seq)
{
	char err[128];

	if (s->state != W_BUSY) {
		snprintf(err, sizeof(err), "a result while %s", sup_wl_state_name(s->state));
		malformed(s, err);
		return;
	}
	if (seq != s->seq) {
		snprintf(err, sizeof(err), "wake-up for sequence %" PRIu64 ", expected %" PRIu64, seq, s->seq);
		malformed(s, err);
		return;
	}
	memcpy(&s->result, (const void *)&s->chan->result, sizeof(s->result));
	if (ipc_result_validate(&s->result, s->seq, err, sizeof(err)) < 0) {
		malformed(s, err);
		return;
	}
	if (s->result.nmore > 0 && !s->job->allmatch) {
		malformed(s, "more names than the one a job without ALLMATCHSCAN asked for");
		return;
	}
	if ((S.cfg->max_jobs_per_worker > 0 && s->jobs + 1 >= S.cfg->max_jobs_per_worker) || !s->ops->serving(s)) {
		s->retiring = 1;
		slot_event(s, EV_RESULT_LAST);
	} else {
		slot_event(s, EV_RESULT);
	}
}

static void readable(uv_poll_t *h, int status, int events)
{
	struct sup_slot *s = h->data;
	struct ipc_wrec r;
	char err[128];
	int rc;

	(void)events;
	if (status < 0) {
		slot_event(s, EV_HANGUP);
		return;
	}
	rc = ipc_wrec_recv(s->sock, &r, err, sizeof(err));
	if (rc == -EAGAIN)
		return;
	if (rc == 0) {
		slot_event(s, EV_HANGUP);
		return;
	}
	if (rc < 0) {
		malformed(s, err);
		return;
	}
	if (r.tag == IPC_W_LOG) {
		if (s->state != W_BUSY) {
			malformed(s, "a log record while idle");
			return;
		}
		engine_log(s, &r.u.log);
		return;
	}
	result_ready(s, r.u.done_seq);
}

/* ------------------------------------------------------------ the API */

void sup_slot_spawn(struct sup_slot *s, int host_ctl, pid_t host_pid)
{
	if (s->state != W_FREE)
		return;
	reset_worker_fields(s);
	s->host_ctl = host_ctl;
	s->host_pid = host_pid;
	s->id = ++S.next_id;
	slot_event(s, EV_SPAWN);
}

void sup_slot_up(struct sup_slot *s, pid_t pid, pid_t ns_pid, int pidfd)
{
	s->pid = pid;
	s->ns_pid = ns_pid;
	s->pidfd = pidfd;
	s->fork_failed = 0;
	slot_event(s, EV_UP);
	if (s->retiring)
		slot_event(s, EV_RETIRE);
}

void sup_slot_fork_failed(struct sup_slot *s, const char *reason)
{
	log_warnx("worker_spawn", "worker=%u gen=%u reason=\"%s\"", s->id, s->gen_id, reason);
	sup_counters.spawn_failures++;
	s->fork_failed = 1;
	slot_event(s, EV_FORK_FAILED);
}

int sup_slot_gone(const struct sup_slot *s)
{
	return s->pidfd < 0 ? -1 : plat_pidfd_exited(s->pidfd);
}

/* Faults the scan raised itself; a SIGKILL or SIGTERM from outside (an
 * operator, a test) does not count against the content. */
static int self_inflicted(int sig)
{
	return sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE ||
	    sig == SIGABRT || sig == SIGTRAP || sig == SIGXCPU;
}

/* The host reaped it: name the cause, from the status and the channel. */
void sup_slot_exited(struct sup_slot *s, int status, int observed)
{
	uint64_t vseq = s->chan ? __atomic_load_n(&s->chan->violation.seq, __ATOMIC_ACQUIRE) : 0;
	int ours = s->fault[0] != '\0';
	char name[64];

	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS && s->chan != NULL &&
	    (vseq != 0 || s->chan->violation.sysno != 0)) {
		priv_syscall_name(s->chan->violation.sysno, name, sizeof(name));
		sup_counters.violations++;
		if (s->job != NULL && observed)
			s->job->blame = 1;
		log_warnx("sandbox_violation", "worker=%u pid=%d syscall=%s job=%" PRIu64 "%s",
		    s->id, (int)s->pid, name, s->job ? s->job->id : 0, s->job ? "" : " while=idle");
		slot_set_fault(s, IPC_CODE_VIOLATION, "sandbox violation: syscall %s", name);
	} else if (WIFSIGNALED(status) && !(WTERMSIG(status) == SIGKILL && ours)) {
		sup_counters.worker_crashes++;
		if (s->job != NULL && observed && self_inflicted(WTERMSIG(status)))
			s->job->blame = 1;
		log_warnx("worker_crash", "worker=%u pid=%d signal=%s job=%" PRIu64,
		    s->id, (int)s->pid, plat_signame(WTERMSIG(status)), s->job ? s->job->id : 0);
		slot_set_fault(s, IPC_CODE_CRASH, "scanner crashed: %s", plat_signame(WTERMSIG(status)));
	} else if (WIFEXITED(status) && s->retiring && WEXITSTATUS(status) == 0) {
		sup_counters.retired++;
		log_info("worker_retire", "worker=%u pid=%d jobs=%" PRIu64, s->id, (int)s->pid, s->jobs);
	} else if (WIFEXITED(status) && !ours) {
		sup_counters.worker_crashes++;
		log_warnx("worker_exit", "worker=%u pid=%d status=%d job=%" PRIu64,
		    s->id, (int)s->pid, WEXITSTATUS(status), s->job ? s->job->id : 0);
		slot_set_fault(s, IPC_CODE_CRASH, "scanner exited with status %d", WEXITSTATUS(status));
		if (s->job != NULL && observed)
			s->job->blame = 1;
	} else {
		log_info("worker_exit", "worker=%u pid=%d cause=\"%s\"", s->id, (int)s->pid, s->fault);
	}
	slot_event(s, EV_EXIT);
}

void sup_slot_give(struct sup_slot *s, struct sup_job *job)
{
	s->job = job;
	job->slot = s;
	job->where = SUP_JOB_SCANNING;
	slot_event(s, EV_JOB);
}

void sup_slot_retire(struct sup_slot *s)
{
	s->retiring = 1;
	if (s->state == W_IDLE)
		slot_event(s, EV_RETIRE);
	/* spawning: on EV_UP; busy: after its job (EV_RESULT_LAST) */
}

void sup_slot_host_lost(struct sup_slot *s, const char *reason)
{
	if (s->state == W_FREE || s->state == W_CLOSING)
		return;
	slot_set_fault(s, IPC_CODE_CRASH, "%s", reason);
	s->host_lost = 1;
	slot_event(s, EV_HOST_LOST);
}

void sup_slot_swap_job(struct sup_slot *s, struct sup_job *by)
{
	struct sup_job *old = s->job;

	by->slot = s;
	by->where = SUP_JOB_SCANNING;
	by->t_dispatch = old->t_dispatch;
	by->t_submit = old->t_submit;
	ipc_gather_put(&by->buf);  /* its bytes are in the data area already */
	old->slot = NULL;
	old->where = SUP_JOB_OUT;
	s->job = by;
}

void sup_slot_cancel(struct sup_slot *s)
{
	if (s->job != NULL)
		slot_event(s, EV_CANCEL);
}
