/*
 * supervisor/pool.c: scanner generations, their workers, the job queue and
 * dispatch.
 *
 * A generation is one scanner host and its workers, built from one load of
 * the database. One generation serves; a reload (or a restart after the
 * serving host died) builds the next one beside it, and new jobs switch to
 * it only once its workers are up. The old one then drains: its idle
 * workers retire at once, busy ones after their job, and its host is
 * stopped when no worker is left. A generation that fails to load never
 * replaces a working one.
 *
 * The supervisor decides everything here: which worker gets which job, when
 * a worker is killed (timeout, malformed result, socket closed), how its job
 * is answered (exactly once), and when a host is restarted (backing off when
 * it cannot start). Every byte a worker or host sends is validated first.
 */
#define _GNU_SOURCE
#include "sup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../platform/plat.h"
#include "../privileges/priv.h"
#include "cache.h"
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
/* A retiring worker reads EOF and exits at once; one that does not is killed. */
#define SUP_RETIRE_GRACE_MS 5000
/* Setting up a worker's channel failed (EMFILE, ENOMEM): try the slot again. */
#define SUP_SPAWN_RETRY_MS 1000
/* libclamav messages logged per job; the rest are counted, not logged. */
#define SUP_ENGINE_LOG_PER_JOB 8
/* reload requests waiting for one answer */
#define SUP_RELOAD_WAITERS 32

struct sup_gen;

struct sup_worker {
	struct sup_gen *gen;
	unsigned slot;
	uint32_t id;
	enum sup_wstate state;
	pid_t pid;
	int pidfd;
	int sock;
	struct ipc_chan *chan;
	struct ipc_data data;  /* the job being scanned, copied in at dispatch */
	size_t dirty;          /* bytes of the data area a previous job wrote */
	uv_poll_t poll;
	int poll_init;
	struct sup_job *job;
	uint64_t seq;
	uint64_t jobs;
	uint64_t started_ns;
	uint64_t died_ns;   /* when it was found dead, for the replacement delay */
	int retiring;       /* max_jobs_per_worker reached, or its generation drains */
	int exit_status;    /* wait status from the host's report */
	unsigned job_logs;  /* engine messages logged for the current job */
	struct ipc_result result;  /* validated copy of the last result */
	char fault[160];    /* first cause of death, if known */
	int32_t fault_code;
	/* Everything above `timer` is reset for each new worker in the slot. */
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
	char database[160];   /* what the host read: versions, or files and date */
	char fatal[IPC_TEXT_MAX];
	uint64_t started_ns;
	uint64_t ready_ns;
};

enum sup_grole {
	G_LOADING,   /* host loading; gets no jobs */
	G_SERVING,   /* gets new jobs */
	G_DRAINING,  /* replaced: finishing its jobs, then stopped */
	G_DEAD,      /* host gone; freed once its handles are closed */
};

struct sup_gen {
	uint32_t id;
	enum sup_grole role;
	int is_reload;          /* started by a reload, not a (re)start */
	uint64_t db_print;      /* the database's fingerprint when it started */
	time_t loaded_at;
	struct sup_host host;
	struct sup_worker *workers;
	unsigned nworkers;
	unsigned handles;       /* open libuv handles; freed at 0 once dead */
	int closing_timers;
	struct sup_gen *next;
};

struct reload_waiter {
	sup_reload_cb cb;
	void *ctx;
};

static struct {
	uv_loop_t *loop;
	const struct sup_config *cfg;
	void (*ready_cb)(void);
	struct sup_gen *gens;       /* every generation still holding resources */
	struct sup_gen *serving;    /* gets new jobs; NULL while none is up */
	struct sup_gen *loading;    /* the next one, while it loads */
	uint32_t next_gen_id;
	uint32_t next_worker_id;
	uint64_t next_seq;
	uv_timer_t restart_timer;
	uv_timer_t queue_timer;   /* the oldest queued job's deadline */
	uv_timer_t spawn_timer;   /* retry slots whose channel setup failed */
	uv_timer_t update_timer;  /* update_interval: has the database changed? */
	/*
	 * Answered jobs wait here for the check phase of the loop: a done
	 * callback never runs inside a pool call (sup_pool_submit answering
	 * from the cache, a reload failing the queue, ...), so a caller never
	 * finds its request answered, and maybe freed, under its feet.
	 */
	uv_check_t done_check;
	uv_idle_t done_idle;      /* keeps poll from blocking while some wait */
	struct sup_job *done_head, *done_tail;
	unsigned backoff_ms;
	int start_failed;         /* the last start attempt failed: fail fast */
	char last_failure[IPC_TEXT_MAX];
	uint64_t failed_print;    /* a database that failed to load: not retried by itself */
	char last_reload[IPC_TEXT_MAX];
	struct reload_waiter waiters[SUP_RELOAD_WAITERS];
	unsigned nwaiters;
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
static void gen_start(int is_reload, const char *why);
static void gen_check(struct sup_gen *g);
static void worker_event(struct sup_worker *w, enum sup_wevent ev);

/* ---------------------------------------------------------------- helpers */

/* The parent pid of a process, from /proc; -1 if gone. */
static long parent_of(pid_t pid)
{
	char path[64], line[128];
	long ppid = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "PPid: %ld", &ppid) == 1)
			break;
	fclose(f);
	return ppid;
}


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

static void done_close(void)
{
	if (uv_is_closing((uv_handle_t *)&P.done_check))
		return;
	uv_close((uv_handle_t *)&P.done_check, NULL);
	uv_close((uv_handle_t *)&P.done_idle, NULL);
}

static void done_idle_cb(uv_idle_t *h)
{
	(void)h;  /* only there to keep the loop from blocking in poll */
}

/*
 * Hands answered jobs to their owners. Only those queued before this turn:
 * a callback that submits again (the next file of a CONTSCAN, answered from
 * the cache) is answered on the next turn, so nothing recurses and a long
 * run of instant answers cannot starve the sockets.
 */
static void done_run(uv_check_t *h)
{
	struct sup_job *job = P.done_head, *last = P.done_tail;

	(void)h;
	if (job == NULL)
		return;
	P.done_head = P.done_tail = NULL;
	for (;;) {
		struct sup_job *next = job->next;
		int end = job == last;
		job->next = NULL;
		job->done(job, &job->verdict);
		if (end)
			break;
		job = next;
	}
	if (P.done_head == NULL)
		uv_idle_stop(&P.done_idle);
	if (P.closing && P.done_head == NULL)
		done_close();
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

/* Queues the answer; done_run() hands it over from the loop's check phase. */
static void job_deliver(struct sup_job *job, const struct sup_verdict *v)
{
	ipc_gather_put(&job->buf);
	job->worker = NULL;
	job->verdict = *v;
	job->next = NULL;
	if (P.done_tail)
		P.done_tail->next = job;
	else
		P.done_head = job;
	P.done_tail = job;
	if (!uv_is_active((uv_handle_t *)&P.done_idle))
		uv_idle_start(&P.done_idle, done_idle_cb);
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
	/* Only the serving generation's verdicts are kept: a draining one's
	 * signatures are already replaced. */
	if (w != NULL && w->gen == P.serving && v->status != IPC_ERROR && sup_cache_enabled()) {
		job_hash(job, w);
		if (job->have_hash)
			sup_cache_insert(job->hash, w->gen->id, v);
	}
	if (v->status == IPC_ERROR)
		plat_log(PLAT_LOG_WARN, "scan", "id=%" PRIu64 " size=%zu ms=%.3f verdict=ERROR reason=\"%s\" worker=%u gen=%u",
		    job->id, job->len, (double)ns / 1e6, v->reason, w ? w->id : 0, w ? w->gen->id : 0);
	else
		plat_log(PLAT_LOG_INFO, "scan", "id=%" PRIu64 " size=%zu ms=%.3f verdict=%s%s%s %s=%u",
		    job->id, job->len, (double)ns / 1e6, ipc_status_name(v->status),
		    v->name[0] ? " virus=" : "", v->name,
		    job->cached ? "cached_gen" : "worker", job->cached ? job->cached : (w ? w->id : 0));
	/* A large message's pages go back to the system, not to the next job. */
	if (w != NULL && job->len > IPC_GATHER_FIRST) {
		ipc_data_trim(&w->data, IPC_GATHER_FIRST, job->len);
		if (w->dirty > IPC_GATHER_FIRST)
			w->dirty = IPC_GATHER_FIRST;  /* the rest reads as zeros now */
	}
	job_deliver(job, v);
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
	for (struct sup_gen *g = P.gens; g != NULL; g = g->next)
		for (unsigned i = 0; i < g->nworkers; i++)
			if (g->workers[i].job != NULL)
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

static void spawn_retry(uv_timer_t *t);

/*
 * The slot's resources go; EV_CLOSED frees it. Reached from the poll
 * handle's close callback, or directly for a slot that never got as far as
 * a poll handle (still spawning when the host went): only a handle that
 * worker_watch() counted is uncounted.
 */
static void worker_release_done(struct sup_worker *w, int had_poll)
{
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
	if (had_poll)
		w->gen->handles--;
	worker_event(w, EV_CLOSED);
	check_drained();
	gen_check(w->gen);
}

static void worker_closed(uv_handle_t *h)
{
	worker_release_done(h->data, 1);
}

static void worker_request_fork(struct sup_worker *w)
{
	struct ipc_msg m;
	int sp[2] = { -1, -1 }, chan_fd = -1, ro_fd = -1, fds[3], rc = 0;
	uint64_t died = w->died_ns;
	struct sup_gen *g = w->gen;

	memset(w, 0, offsetof(struct sup_worker, timer));
	/* worker_closed() finds the slot through poll.data, even if never polled. */
	w->poll.data = w;
	w->gen = g;
	w->slot = (unsigned)(w - g->workers);
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
	rc = ipc_msg_send(g->host.ctl, &m, fds, 3);
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
	/* Out of descriptors or memory for now: the slot is tried again. */
	if (rc == 0 && !uv_is_active((uv_handle_t *)&P.spawn_timer))
		uv_timer_start(&P.spawn_timer, spawn_retry, SUP_SPAWN_RETRY_MS, 0);
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

/* pidfd was opened (and the pid checked) when the host reported it. */
static void worker_watch(struct sup_worker *w)
{
	w->started_ns = plat_now_ns();
	uv_poll_init(P.loop, &w->poll, w->sock);
	w->poll.data = w;
	w->poll_init = 1;
	w->gen->handles++;
	uv_poll_start(&w->poll, UV_READABLE | UV_DISCONNECT, worker_readable);
	plat_log(PLAT_LOG_INFO, "worker_start", "worker=%u pid=%d gen=%u", w->id, (int)w->pid, w->gen->id);
	if (w->died_ns != 0 && P.nrespawn < sizeof(P.respawn_ns) / sizeof(P.respawn_ns[0]))
		P.respawn_ns[P.nrespawn++] = plat_now_ns() - w->died_ns;
	w->died_ns = 0;
}

/* A retiring worker that has not exited after the grace period is killed. */
static void worker_grace_expired(uv_timer_t *t)
{
	struct sup_worker *w = t->data;

	plat_log(PLAT_LOG_WARN, "worker_retire_timeout", "worker=%u pid=%d after_ms=%u action=kill",
	    w->id, (int)w->pid, SUP_RETIRE_GRACE_MS);
	worker_set_fault(w, IPC_CODE_CRASH, "scanner did not exit when retired");
	worker_event(w, EV_TIMEOUT);
}

static void worker_send_job(struct sup_worker *w)
{
	struct ipc_job m = { .seq = ++P.next_seq, .len = w->job->len };

	w->job->t_dispatch = plat_now_ns();
	w->seq = m.seq;
	w->job_logs = 0;
	w->chan->result.seq = 0;
	/* The one copy: gather buffer to the worker's data area. */
	if (m.len > 0)
		memcpy(w->data.base, w->job->buf.base, m.len);
	/* A worker sees only its current job: no tail of the previous one. */
	if (w->dirty > m.len)
		memset(w->data.base + m.len, 0, w->dirty - m.len);
	w->dirty = m.len;
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
	/* Through the pidfd taken when its parentage was checked, so a pid
	 * reused since cannot be hit. Kernels before 5.3 (and valgrind) have no
	 * pidfds: there the pid, re-checked to still be the host's child. */
	if ((a & A_KILL) && w->pidfd >= 0)
		syscall(SYS_pidfd_send_signal, w->pidfd, SIGKILL, NULL, 0);
	else if ((a & A_KILL) && w->pid > 1 && parent_of(w->pid) == (long)w->gen->host.pid)
		kill(w->pid, SIGKILL);
	if (a & A_CLOSE_CHANNEL) {
		if (w->sock >= 0)
			shutdown(w->sock, SHUT_RDWR);  /* the worker reads EOF and exits 0 */
		uv_timer_start(&w->timer, worker_grace_expired, SUP_RETIRE_GRACE_MS, 0);
	}
	if (a & A_ANSWER_RESULT)
		worker_answer_result(w);
	if (a & A_ANSWER_FAULT)
		worker_answer_fault(w);
	if (a & A_RELEASE) {
		uv_timer_stop(&w->timer);
		if (w->poll_init)
			uv_close((uv_handle_t *)&w->poll, worker_closed);
		else
			worker_release_done(w, 0);
	}
	if (a & A_REQUEST_FORK)
		worker_request_fork(w);
	if (a & A_WATCH)
		worker_watch(w);
	if (a & A_SEND_JOB)
		worker_send_job(w);
	if (a & A_RESPAWN) {
		struct sup_gen *g = w->gen;
		if (g->host.state == H_READY && (g->role == G_SERVING || g->role == G_LOADING) && !P.closing)
			worker_event(w, EV_SPAWN);
	}
	if (a & A_DISPATCH)
		dispatch();
	check_drained();
}

static enum plat_log_level engine_level(int32_t level)
{
	return level == IPC_LOG_ERROR ? PLAT_LOG_ERROR : level == IPC_LOG_WARN ? PLAT_LOG_WARN : PLAT_LOG_INFO;
}

/* libclamav's own words, tagged; a flood from one scan is capped. */
static void worker_engine_log(struct sup_worker *w, const struct ipc_wlog *l)
{
	if (w->job_logs++ < SUP_ENGINE_LOG_PER_JOB) {
		plat_log(engine_level(l->level), "engine_log", "source=libclamav worker=%u job=%" PRIu64 " text=\"%s\"",
		    w->id, w->job ? w->job->id : 0, l->text);
		return;
	}
	P.stats.engine_logs_dropped++;
	if (w->job_logs == SUP_ENGINE_LOG_PER_JOB + 1)
		plat_log(PLAT_LOG_INFO, "engine_log_capped", "worker=%u job=%" PRIu64 " limit=%u "
		    "reason=\"further libclamav messages for this scan are counted, not logged\"",
		    w->id, w->job ? w->job->id : 0, SUP_ENGINE_LOG_PER_JOB);
}

static void worker_readable(uv_poll_t *h, int status, int events)
{
	struct sup_worker *w = h->data;
	union {
		uint64_t seq;
		struct ipc_wlog log;
		unsigned char raw[sizeof(struct ipc_wlog) + 16];
	} buf;
	uint64_t woke;
	char err[128];
	ssize_t n;

	(void)events;
	if (status < 0) {
		worker_event(w, EV_HANGUP);
		return;
	}
	n = recv(w->sock, buf.raw, sizeof(buf.raw), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		worker_event(w, EV_HANGUP);
		return;
	}
	if (w->state == W_BUSY && n == (ssize_t)sizeof(struct ipc_wlog)) {
		if (ipc_wlog_clean(&buf.log, err, sizeof(err)) < 0)
			goto malformed;
		worker_engine_log(w, &buf.log);
		return;
	}
	if (w->state != W_BUSY || n != (ssize_t)sizeof(uint64_t)) {
		snprintf(err, sizeof(err), "unexpected %zd-byte message while %s", n, sup_wl_state_name(w->state));
		goto malformed;
	}
	woke = buf.seq;
	if (woke != w->seq) {
		snprintf(err, sizeof(err), "wake-up for sequence %" PRIu64 ", expected %" PRIu64, woke, w->seq);
		goto malformed;
	}
	/* Copy out once, then validate the copy: the worker may still write. */
	memcpy(&w->result, (const void *)&w->chan->result, sizeof(w->result));
	if (ipc_result_validate(&w->result, w->seq, err, sizeof(err)) < 0)
		goto malformed;
	if ((P.cfg->max_jobs_per_worker > 0 && w->jobs + 1 >= P.cfg->max_jobs_per_worker) ||
	    w->gen->role != G_SERVING) {
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

static struct sup_worker *worker_by_id(struct sup_gen *g, uint32_t id)
{
	for (unsigned i = 0; i < g->nworkers; i++)
		if (g->workers[i].state != W_FREE && g->workers[i].id == id)
			return &g->workers[i];
	return NULL;
}

/* Slots whose channel could not be set up, in generations that want them. */
static void spawn_retry(uv_timer_t *t)
{
	(void)t;
	for (struct sup_gen *g = P.gens; g != NULL; g = g->next) {
		if (g->host.state != H_READY || (g->role != G_SERVING && g->role != G_LOADING))
			continue;
		for (unsigned i = 0; i < g->nworkers; i++)
			if (g->workers[i].state == W_FREE)
				worker_event(&g->workers[i], EV_SPAWN);
	}
}

static void dispatch(void)
{
	struct sup_gen *g = P.serving;

	if (g == NULL)
		return;
	for (unsigned i = 0; i < g->nworkers && P.qlen > 0; i++) {
		struct sup_worker *w = &g->workers[i];
		if (w->state != W_IDLE)
			continue;
		w->job = queue_pop();
		w->job->worker = w;
		worker_event(w, EV_JOB);
	}
}

/* ------------------------------------------------------------ generations */

/*
 * What identifies a database's contents without reading them: names, sizes,
 * modification times and inodes of its signature files, as clamd's SelfCheck
 * watches them. Temporary files freshclam writes (other extensions) do not
 * count, so a half-written update does not trigger a reload.
 */
static int is_db_file(const char *name)
{
	static const char *const ext[] = {
		"cvd", "cld", "cud", "cdiff", "db", "hdb", "hsb", "hdu", "hsu", "mdb", "msb", "mdu", "msu",
		"ndb", "ndu", "ldb", "ldu", "sdb", "zmd", "rmd", "idb", "fp", "sfp", "gdb", "pdb", "wdb",
		"cdb", "cat", "crb", "ftm", "cfg", "ign", "ign2", "info", "yar", "yara", "pwdb", "imp",
	};
	const char *dot = strrchr(name, '.');

	if (dot == NULL || name[0] == '.')
		return 0;
	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
		if (strcmp(dot + 1, ext[i]) == 0)
			return 1;
	return 0;
}

static uint64_t print_mix(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++) {
		h ^= c[i];
		h *= 0x100000001b3ull;  /* FNV-1a */
	}
	return h;
}

static uint64_t print_entry(const char *name, const struct stat *st)
{
	uint64_t h = 0xcbf29ce484222325ull;

	h = print_mix(h, name, strlen(name));
	h = print_mix(h, &st->st_size, sizeof(st->st_size));
	h = print_mix(h, &st->st_mtim, sizeof(st->st_mtim));
	h = print_mix(h, &st->st_ino, sizeof(st->st_ino));
	return h;
}

/* 0 when the database cannot be read (the host will say why). */
static uint64_t db_fingerprint(const char *path)
{
	struct stat st;
	struct dirent *de;
	uint64_t sum = 0;
	DIR *d;

	if (stat(path, &st) < 0)
		return 0;
	if (!S_ISDIR(st.st_mode))
		return print_entry(path, &st);
	if ((d = opendir(path)) == NULL)
		return 0;
	/* A sum, so the order readdir returns entries in does not matter. */
	while ((de = readdir(d)) != NULL) {
		if (!is_db_file(de->d_name) || fstatat(dirfd(d), de->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
			continue;
		sum += print_entry(de->d_name, &st);
	}
	closedir(d);
	return sum == 0 ? 1 : sum;
}

static void gen_handle_closed(uv_handle_t *h)
{
	struct sup_gen *g = h->data;

	g->handles--;
	gen_check(g);
}

static void slot_timer_closed(uv_handle_t *h)
{
	struct sup_worker *w = h->data;

	gen_handle_closed((uv_handle_t *)&w->gen->host.proc);
}

static void gen_unlink(struct sup_gen *g)
{
	for (struct sup_gen **pp = &P.gens; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == g) {
			*pp = g->next;
			return;
		}
	}
}

/*
 * Housekeeping after any change: a draining generation with no worker left
 * has its host stopped; a dead one with nothing open is freed.
 */
static void gen_check(struct sup_gen *g)
{
	unsigned live = 0;

	for (unsigned i = 0; i < g->nworkers; i++)
		live += g->workers[i].state != W_FREE;
	if (g->role == G_DRAINING && live == 0 && g->host.state == H_READY) {
		g->host.state = H_EXITING;
		/* The host holds nothing worth a goodbye; its exit is logged. */
		uv_process_kill(&g->host.proc, SIGKILL);
		return;
	}
	if (g->role != G_DEAD || live > 0 || g->host.proc_open || g->host.poll_open)
		return;
	if (g->handles == g->nworkers && !g->closing_timers) {
		/* Only the slot timers are left: close them; the last one frees. */
		g->closing_timers = 1;
		for (unsigned i = 0; i < g->nworkers; i++)
			uv_close((uv_handle_t *)&g->workers[i].timer, slot_timer_closed);
		return;
	}
	if (g->handles == 0) {
		gen_unlink(g);
		free(g->workers);
		free(g);
	}
}

static struct sup_gen *gen_new(int is_reload)
{
	struct sup_gen *g = calloc(1, sizeof(*g));

	if (g == NULL)
		return NULL;
	g->nworkers = P.cfg->max_concurrency;
	g->workers = calloc(g->nworkers, sizeof(*g->workers));
	if (g->workers == NULL) {
		free(g);
		return NULL;
	}
	g->id = ++P.next_gen_id;
	g->role = G_LOADING;
	g->is_reload = is_reload;
	g->host.ctl = -1;
	for (unsigned i = 0; i < g->nworkers; i++) {
		struct sup_worker *w = &g->workers[i];
		w->gen = g;
		w->slot = i;
		w->sock = -1;
		w->pidfd = -1;
		w->data.fd = -1;
		uv_timer_init(P.loop, &w->timer);
		w->timer.data = w;
		g->handles++;
	}
	g->next = P.gens;
	P.gens = g;
	return g;
}

static void reload_answer(int ok, const char *fmt, ...) PLAT_PRINTF(2, 3);

/* Every waiting reload request gets the same answer. */
static void reload_answer(int ok, const char *fmt, ...)
{
	struct reload_waiter w[SUP_RELOAD_WAITERS];
	unsigned n = P.nwaiters;
	char msg[IPC_TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* A callback may ask for another reload: answer from a copy. */
	memcpy(w, P.waiters, n * sizeof(w[0]));
	P.nwaiters = 0;
	for (unsigned i = 0; i < n; i++)
		w[i].cb(w[i].ctx, ok, msg);
}

/* Retire g: idle workers now, busy ones after their job, then its host. */
static void gen_retire(struct sup_gen *g)
{
	g->role = G_DRAINING;
	plat_log(PLAT_LOG_INFO, "generation_drain", "gen=%u", g->id);
	for (unsigned i = 0; i < g->nworkers; i++) {
		struct sup_worker *w = &g->workers[i];
		w->retiring = 1;
		if (w->state == W_IDLE)
			worker_event(w, EV_RETIRE);
	}
	gen_check(g);
}

/* g's workers are up: it takes every new job from now on. */
static void gen_promote(struct sup_gen *g)
{
	struct sup_gen *old = P.serving;
	double ms = (double)(plat_now_ns() - g->host.started_ns) / 1e6;

	P.loading = NULL;
	P.serving = g;
	g->role = G_SERVING;
	g->loaded_at = time(NULL);
	/* Verdicts of the old signatures must not answer for the new ones. */
	sup_cache_clear();
	if (old != NULL) {
		P.stats.reloads++;
		snprintf(P.last_reload, sizeof(P.last_reload), "generation %u serving since %ld, %u signatures",
		    g->id, (long)g->loaded_at, g->host.sigs);
		plat_log(PLAT_LOG_INFO, "reload_done", "gen=%u signatures=%u database=\"%s\" ms=%.0f replaces=%u",
		    g->id, g->host.sigs, g->host.database, ms, old->id);
		gen_retire(old);
	} else {
		plat_log(PLAT_LOG_INFO, "generation_serving", "gen=%u signatures=%u database=\"%s\" ms=%.0f",
		    g->id, g->host.sigs, g->host.database, ms);
	}
	if (P.nwaiters > 0)
		reload_answer(1, "generation %u serving: %u signatures, database %s, loaded in %.0f ms",
		    g->id, g->host.sigs, g->host.database, ms);
	if (P.ready_cb) {
		void (*cb)(void) = P.ready_cb;
		P.ready_cb = NULL;
		cb();
	}
	dispatch();
}

/* A loading generation is ready once no slot is still being forked. */
static void gen_loading_progress(struct sup_gen *g)
{
	unsigned up = 0, spawning = 0;

	if (g->role != G_LOADING || g->host.state != H_READY)
		return;
	for (unsigned i = 0; i < g->nworkers; i++) {
		up += g->workers[i].state == W_IDLE || g->workers[i].state == W_BUSY;
		spawning += g->workers[i].state == W_SPAWNING;
	}
	if (spawning > 0)
		return;
	if (up > 0) {
		gen_promote(g);
		return;
	}
	snprintf(g->host.fatal, sizeof(g->host.fatal), "no worker could be started");
	g->host.state = H_EXITING;
	uv_process_kill(&g->host.proc, SIGKILL);
}

static void host_reset_workers(struct sup_gen *g, const char *reason)
{
	for (unsigned i = 0; i < g->nworkers; i++) {
		struct sup_worker *w = &g->workers[i];
		if (w->state == W_FREE || w->state == W_CLOSING)
			continue;
		worker_set_fault(w, IPC_CODE_CRASH, "%s", reason);
		worker_event(w, EV_HOST_LOST);
	}
}

static void restart_timer_cb(uv_timer_t *t)
{
	(void)t;
	gen_start(0, "restart");
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

/* A generation that never served: a failed reload, or no scanner at all. */
static void gen_load_failed(struct sup_gen *g, const char *reason)
{
	P.loading = NULL;
	if (P.serving != NULL) {
		P.stats.reload_failures++;
		P.failed_print = g->db_print;
		snprintf(P.last_reload, sizeof(P.last_reload), "generation %u failed: %s", g->id, reason);
		plat_log(PLAT_LOG_ERROR, "reload_failed", "gen=%u reason=\"%s\" action=\"generation %u keeps serving\" "
		    "fix=\"check the database (clamscan -d DIR), then avwardenctl reload\"",
		    g->id, reason, P.serving->id);
		if (P.nwaiters > 0)
			reload_answer(0, "reload failed: %s; generation %u keeps serving", reason, P.serving->id);
		return;
	}
	P.start_failed = 1;
	snprintf(P.last_failure, sizeof(P.last_failure), "%s", reason);
	plat_log(PLAT_LOG_ERROR, "host_failed", "reason=\"%s\" retry_in=%ums "
	    "fix=\"check scanner_path, database and user in the config; run avwarden --check-config\"",
	    reason, P.backoff_ms);
	if (P.nwaiters > 0)
		reload_answer(0, "reload failed: %s; no scanner is serving, retrying in %u ms", reason, P.backoff_ms);
	fail_queue("no scanner available: scanner host failed to start");
	host_schedule_restart(1);
}

static void host_exit_cb(uv_process_t *proc, int64_t exit_status, int term_signal)
{
	struct sup_gen *g = proc->data;
	enum sup_grole role = g->role;
	char reason[IPC_TEXT_MAX];

	if (g->host.fatal[0] != '\0')
		snprintf(reason, sizeof(reason), "%s", g->host.fatal);
	else if (term_signal)
		snprintf(reason, sizeof(reason), "scanner host killed by %s", plat_signame(term_signal));
	else
		snprintf(reason, sizeof(reason), "scanner host exited with status %d", (int)exit_status);

	g->host.state = H_EXITING;
	g->role = G_DEAD;
	if (g->host.poll_open) {
		uv_poll_stop(&g->host.ctl_poll);
		uv_close((uv_handle_t *)&g->host.ctl_poll, gen_handle_closed);
		g->host.poll_open = 0;
	}
	if (g->host.ctl >= 0)
		close(g->host.ctl);
	g->host.ctl = -1;
	uv_close((uv_handle_t *)&g->host.proc, gen_handle_closed);
	g->host.proc_open = 0;
	host_reset_workers(g, "scanner host exited during the scan");
	g->host.state = H_NONE;

	if (P.closing) {
		gen_check(g);
		return;
	}
	switch (role) {
	case G_DRAINING:
		plat_log(PLAT_LOG_INFO, "generation_retired", "gen=%u pid=%d", g->id, (int)g->host.pid);
		break;
	case G_SERVING:
		P.serving = NULL;
		P.stats.host_restarts++;
		plat_log(PLAT_LOG_WARN, "host_exit", "gen=%u pid=%d reason=\"%s\" action=restart",
		    g->id, (int)g->host.pid, reason);
		P.start_failed = 0;
		/* A reload already loading takes over; else a new generation now. */
		if (P.loading == NULL)
			host_schedule_restart(0);
		break;
	case G_LOADING:
		gen_load_failed(g, reason);
		break;
	case G_DEAD:
		break;
	}
	gen_check(g);
}

/* The host's READY text: "engine=V missing=L tmpdir=D db=REST OF LINE". */
static void host_ready(struct sup_gen *g, const struct ipc_msg *m)
{
	char engine[64] = "?", missing[64] = "?";
	const char *p;

	if (g->host.state != H_STARTING)
		return;
	if ((p = strstr(m->text, "engine=")) != NULL)
		sscanf(p, "engine=%63s", engine);
	if ((p = strstr(m->text, "missing=")) != NULL)
		sscanf(p, "missing=%63s", missing);
	snprintf(g->host.database, sizeof(g->host.database), "%s",
	    (p = strstr(m->text, " db=")) != NULL ? p + 4 : "?");
	ipc_text_clean(g->host.database);
	ipc_text_clean(engine);
	snprintf(g->host.engine, sizeof(g->host.engine), "%s", engine);
	g->host.sigs = m->a > 0 ? (unsigned)m->a : 0;
	g->host.state = H_READY;
	g->host.ready_ns = plat_now_ns();
	if (!g->is_reload || P.serving == NULL) {
		P.start_failed = 0;
		P.backoff_ms = SUP_BACKOFF_MIN_MS;
	}
	plat_log(PLAT_LOG_INFO, "host_ready", "gen=%u pid=%d signatures=%u engine=%s database=\"%s\" load_ms=%.0f",
	    g->id, (int)g->host.pid, g->host.sigs, g->host.engine, g->host.database,
	    (double)(g->host.ready_ns - g->host.started_ns) / 1e6);
	if (strcmp(missing, "none") != 0)
		plat_log(PLAT_LOG_WARN, "sandbox_layer_missing", "layers=%s "
		    "fix=\"enable unprivileged user namespaces / Landlock in the kernel for full containment\"",
		    missing);
	for (unsigned i = 0; i < g->nworkers; i++)
		worker_event(&g->workers[i], EV_SPAWN);
	gen_loading_progress(g);
}

/*
 * The host names the pid of a worker it forked. Trust it only as far as we
 * can check: the process must be the host's child, and from then on it is
 * held by a pidfd, so a later SIGKILL cannot reach anything else.
 */
/* Returns the pidfd, PIDFD_NONE where the kernel has no pidfds, or -1. */
#define PIDFD_NONE (-2)
static int worker_pidfd(const struct sup_gen *g, pid_t pid)
{
	int fd;

	if (pid <= 1 || pid == g->host.pid)
		return -1;
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0 && errno != ENOSYS)
		return -1;
	if (parent_of(pid) != (long)g->host.pid) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd >= 0 ? fd : PIDFD_NONE;
}

static void host_malformed(struct sup_gen *g, const char *fmt, ...) PLAT_PRINTF(2, 3);

static void host_malformed(struct sup_gen *g, const char *fmt, ...)
{
	va_list ap;
	char why[256];

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	plat_log(PLAT_LOG_WARN, "host_malformed", "gen=%u pid=%d reason=\"%s\"", g->id, (int)g->host.pid, why);
	if (g->host.fatal[0] == '\0')
		snprintf(g->host.fatal, sizeof(g->host.fatal), "scanner host misbehaved: %s", why);
	uv_poll_stop(&g->host.ctl_poll);
	uv_process_kill(&g->host.proc, SIGKILL);
}

static void host_engine_log(struct sup_gen *g, struct ipc_msg *m)
{
	m->text[sizeof(m->text) - 1] = '\0';
	ipc_text_clean(m->text);
	plat_log(engine_level(m->a), "engine_log", "source=libclamav gen=%u pid=%d text=\"%s\"",
	    g->id, (int)g->host.pid, m->text);
}

static void host_readable(uv_poll_t *h, int status, int events)
{
	struct sup_gen *g = h->data;
	struct ipc_msg m;
	int fds[2];
	size_t nfds;
	int rc;

	(void)events;
	if (status < 0)
		return;
	for (;;) {
		nfds = 2;
		rc = ipc_msg_recv(g->host.ctl, &m, fds, &nfds);
		if (rc == -EAGAIN)
			return;
		if (rc <= 0) {
			/* EOF or garbage: the host is finished; exit_cb does the rest. */
			if (rc < 0)
				host_malformed(g, "%s", strerror(-rc));
			else {
				uv_poll_stop(&g->host.ctl_poll);
				uv_process_kill(&g->host.proc, SIGKILL);
			}
			return;
		}
		for (size_t i = 0; i < nfds; i++)
			close(fds[i]);  /* the host never sends descriptors */
		switch (m.type) {
		case IPC_MSG_READY:
			host_ready(g, &m);
			break;
		case IPC_MSG_FATAL:
			m.text[sizeof(m.text) - 1] = '\0';
			ipc_text_clean(m.text);
			snprintf(g->host.fatal, sizeof(g->host.fatal), "%s", m.text);
			break;
		case IPC_MSG_LOG:
			host_engine_log(g, &m);
			break;
		case IPC_MSG_WORKER_UP: {
			struct sup_worker *w = worker_by_id(g, m.worker);
			int fd;
			if (w == NULL || w->state != W_SPAWNING)
				break;
			if ((fd = worker_pidfd(g, m.pid)) == -1) {
				host_malformed(g, "worker %u reported as pid %d, which is not the host's child",
				    m.worker, (int)m.pid);
				return;
			}
			w->pid = m.pid;
			w->pidfd = fd >= 0 ? fd : -1;
			worker_event(w, EV_UP);
			if (g->role == G_DRAINING)
				worker_event(w, EV_RETIRE);
			gen_loading_progress(g);
			break;
		}
		case IPC_MSG_WORKER_EXIT: {
			struct sup_worker *w = worker_by_id(g, m.worker);
			if (w == NULL)
				break;
			if (w->state == W_SPAWNING) {
				m.text[sizeof(m.text) - 1] = '\0';
				ipc_text_clean(m.text);
				plat_log(PLAT_LOG_WARN, "worker_spawn", "worker=%u reason=\"%s\"", w->id, m.text);
				worker_event(w, EV_FORK_FAILED);
				gen_loading_progress(g);
				break;
			}
			if (m.pid == w->pid)
				worker_exited(w, m.a);
			break;
		}
		default:
			host_malformed(g, "unexpected message type %u", m.type);
			return;
		}
	}
}

static void gen_start(int is_reload, const char *why)
{
	char mem_s[32], tmp_s[32], fsize_s[32], ssize_s[32], rec_s[32], files_s[32], time_s[32];
	char *args[24];
	char *env[] = { "PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C", NULL };
	uv_stdio_container_t stdio[4];
	uv_process_options_t o;
	struct priv_spawn_limits lim = { .nofile = 1024 };
	struct sup_gen *g;
	int sp[2], rc;
	size_t a = 0;

	const struct sup_config *c = P.cfg;

	if (P.closing || P.loading != NULL)
		return;
	uv_timer_stop(&P.restart_timer);
	if ((g = gen_new(is_reload)) == NULL) {
		log_warn("host_failed", "step=alloc");
		host_schedule_restart(1);
		return;
	}
	P.loading = g;
	g->db_print = db_fingerprint(c->database);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		log_warn("host_failed", "step=socketpair");
		g->role = G_DEAD;
		gen_load_failed(g, "cannot create the scanner's control socket");
		gen_check(g);
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
	g->host.started_ns = plat_now_ns();
	g->host.proc.data = g;
	rc = uv_spawn(P.loop, &g->host.proc, &o);
	g->host.proc.data = g;
	close(sp[1]);
	g->handles++;
	if (rc < 0) {
		char reason[IPC_TEXT_MAX];
		close(sp[0]);
		uv_close((uv_handle_t *)&g->host.proc, gen_handle_closed);
		g->role = G_DEAD;
		snprintf(reason, sizeof(reason), "cannot execute scanner_path %s: %s", c->scanner_path, uv_strerror(rc));
		plat_log(PLAT_LOG_ERROR, "host_spawn", "reason=\"%s\" "
		    "fix=\"point scanner_path at avwarden-scanner (or a wrapper that execs it), executable by user %s\"",
		    reason, c->user);
		gen_load_failed(g, reason);
		gen_check(g);
		return;
	}
	g->host.proc_open = 1;
	g->host.pid = g->host.proc.pid;
	g->host.ctl = sp[0];
	g->host.state = H_STARTING;
	uv_poll_init(P.loop, &g->host.ctl_poll, g->host.ctl);
	g->host.ctl_poll.data = g;
	g->host.poll_open = 1;
	g->handles++;
	uv_poll_start(&g->host.ctl_poll, UV_READABLE | UV_DISCONNECT, host_readable);
	/*
	 * The host applies these limits to itself before anything else: libuv
	 * has no pre-exec hook, and prlimit() on a process of another uid needs
	 * CAP_SYS_RESOURCE, which a container's root may not have.
	 */
	struct ipc_msg m = { .type = IPC_MSG_START, .a = (int32_t)lim.nofile };
	if (ipc_msg_send(g->host.ctl, &m, NULL, 0) < 0)
		uv_process_kill(&g->host.proc, SIGKILL);
	plat_log(PLAT_LOG_INFO, is_reload ? "reload_start" : "host_start", "gen=%u pid=%d reason=\"%s\" "
	    "scanner_path=%s database=%s", g->id, (int)g->host.pid, why, c->scanner_path, c->database);
}

/* update_interval: a changed database is reloaded, as clamd's SelfCheck. */
static void update_check(uv_timer_t *t)
{
	uint64_t now;

	(void)t;
	if (P.serving == NULL || P.loading != NULL || P.draining)
		return;
	now = db_fingerprint(P.cfg->database);
	if (now == 0 || now == P.serving->db_print || now == P.failed_print)
		return;
	plat_log(PLAT_LOG_INFO, "database_changed", "database=%s gen=%u action=reload", P.cfg->database, P.serving->id);
	sup_pool_reload("database changed", NULL, NULL);
}

/* ------------------------------------------------------------------- API */

int sup_pool_init(uv_loop_t *loop, const struct sup_config *cfg, void (*ready_cb)(void))
{
	memset(&P, 0, sizeof(P));
	P.loop = loop;
	P.cfg = cfg;
	P.ready_cb = ready_cb;
	P.backoff_ms = SUP_BACKOFF_MIN_MS;
	uv_timer_init(loop, &P.restart_timer);
	uv_timer_init(loop, &P.queue_timer);
	uv_timer_init(loop, &P.spawn_timer);
	uv_timer_init(loop, &P.update_timer);
	uv_check_init(loop, &P.done_check);
	uv_idle_init(loop, &P.done_idle);
	uv_check_start(&P.done_check, done_run);
	/* The check handle alone must not keep the loop alive; the idle one,
	 * active only while answers wait, does. */
	uv_unref((uv_handle_t *)&P.done_check);
	if (sup_poison_init(1024, cfg->poison_threshold, cfg->poison_ttl) < 0 ||
	    sup_cache_init(cfg->cache_size) < 0)
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
	if (cfg->update_interval > 0)
		uv_timer_start(&P.update_timer, update_check, (uint64_t)cfg->update_interval * 1000,
		    (uint64_t)cfg->update_interval * 1000);
	gen_start(0, "start");
	return 0;
}

void sup_pool_submit(struct sup_job *job)
{
	struct sup_verdict v;

	job->t_submit = plat_now_ns();
	job->worker = NULL;
	job->cached = 0;
	if (P.draining || P.closing) {
		verdict_error(&v, IPC_CODE_UNAVAILABLE, "avwarden is shutting down");
		job_finish(job, &v, NULL);
		return;
	}
	if (P.serving == NULL && P.start_failed) {
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
			job_deliver(job, &v);
			return;
		}
	}
	if (P.serving != NULL && sup_cache_enabled()) {
		job_hash(job, NULL);
		if (job->have_hash && sup_cache_lookup(job->hash, P.serving->id, &v)) {
			P.stats.cache_hits++;
			job->cached = P.serving->id;
			job_finish(job, &v, NULL);
			return;
		}
	}
	if (P.qlen >= P.cfg->max_queue && sup_pool_idle() == 0) {
		P.stats.rejected_queue_full++;
		plat_log(PLAT_LOG_WARN, "queue_full", "max_queue=%u max_concurrency=%u "
		    "fix=\"raise max_concurrency if the machine has cores to spare, or max_queue\"",
		    P.cfg->max_queue, P.cfg->max_concurrency);
		verdict_error(&v, IPC_CODE_QUEUE_FULL, "queue full (max_queue %u)", P.cfg->max_queue);
		job_finish(job, &v, NULL);
		return;
	}
	queue_push(job);
	dispatch();
}

void sup_pool_reload(const char *why, sup_reload_cb cb, void *ctx)
{
	if (P.draining || P.closing) {
		if (cb != NULL)
			cb(ctx, 0, "avwarden is shutting down");
		return;
	}
	if (cb != NULL) {
		if (P.nwaiters == SUP_RELOAD_WAITERS) {
			cb(ctx, 0, "too many reload requests waiting; one is already in progress");
			return;
		}
		P.waiters[P.nwaiters++] = (struct reload_waiter){ cb, ctx };
	}
	if (P.loading != NULL) {
		/* Overlapping reloads: one load, and every requester hears how it went. */
		plat_log(PLAT_LOG_INFO, "reload_coalesced", "reason=\"%s\" gen=%u", why, P.loading->id);
		return;
	}
	gen_start(1, why);
}

void sup_pool_drain(void (*cb)(void))
{
	P.draining = 1;
	P.drain_cb = cb;
	if (P.serving == NULL)
		fail_queue("avwarden is shutting down");
	check_drained();
}

void sup_pool_close(void)
{
	P.closing = 1;
	uv_close((uv_handle_t *)&P.restart_timer, NULL);
	uv_close((uv_handle_t *)&P.queue_timer, NULL);
	uv_close((uv_handle_t *)&P.spawn_timer, NULL);
	uv_close((uv_handle_t *)&P.update_timer, NULL);
	fail_queue("avwarden is shutting down");
	if (P.nwaiters > 0)
		reload_answer(0, "avwarden is shutting down");
	/* Each host's exit callback closes the rest and frees its generation. */
	for (struct sup_gen *g = P.gens; g != NULL; g = g->next) {
		if (g->host.proc_open)
			uv_process_kill(&g->host.proc, SIGKILL);
		host_reset_workers(g, "avwarden is shutting down");
	}
	P.serving = P.loading = NULL;
	if (P.done_head == NULL)
		done_close();  /* else done_run() does, once they are answered */
}

void sup_pool_free(void)
{
	struct sup_gen *g;

	/* Normally none is left: the loop ran until every handle closed. */
	while ((g = P.gens) != NULL) {
		P.gens = g->next;
		free(g->workers);
		free(g);
	}
	sup_cache_free();
	sup_poison_free();
	ipc_gather_drain();
}

const struct sup_stats *sup_pool_stats(void)
{
	return &P.stats;
}

void sup_pool_describe(struct sup_pool_info *info)
{
	const struct sup_gen *g = P.serving;

	memset(info, 0, sizeof(*info));
	info->queue_depth = P.qlen;
	info->busy = sup_pool_busy();
	info->idle = sup_pool_idle();
	info->cache_entries = sup_cache_count();
	info->cache_size = P.cfg->cache_size;
	info->reloading = P.loading != NULL;
	snprintf(info->last_reload, sizeof(info->last_reload), "%s", P.last_reload[0] ? P.last_reload : "none");
	if (g == NULL) {
		snprintf(info->engine, sizeof(info->engine), "?");
		snprintf(info->database, sizeof(info->database), "%.150s",
		    P.start_failed ? P.last_failure : "loading");
		return;
	}
	info->generation = g->id;
	info->signatures = g->host.sigs;
	info->loaded_at = g->loaded_at;
	snprintf(info->engine, sizeof(info->engine), "%s", g->host.engine);
	snprintf(info->database, sizeof(info->database), "%s", g->host.database);
}

const char *sup_pool_engine_version(void)
{
	return P.serving != NULL && P.serving->host.engine[0] ? P.serving->host.engine : "?";
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

static unsigned count_state(enum sup_wstate s)
{
	unsigned n = 0;

	if (P.serving == NULL)
		return 0;
	for (unsigned i = 0; i < P.serving->nworkers; i++)
		n += P.serving->workers[i].state == s;
	return n;
}

unsigned sup_pool_busy(void)
{
	return count_state(W_BUSY);
}

unsigned sup_pool_idle(void)
{
	return count_state(W_IDLE);
}

static uint64_t rss_of(pid_t pid)
{
	char path[64];
	unsigned long long size = 0, resident = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	if (fscanf(f, "%llu %llu", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

size_t sup_pool_workers(struct sup_worker_info *out, size_t n)
{
	uint64_t now = plat_now_ns();
	size_t k = 0;

	for (const struct sup_gen *g = P.gens; g != NULL; g = g->next) {
		for (unsigned i = 0; i < g->nworkers && k < n; i++) {
			const struct sup_worker *w = &g->workers[i];
			if (w->state == W_FREE)
				continue;
			out[k] = (struct sup_worker_info){
				.generation = g->id,
				.serving = g == P.serving,
				.id = w->id,
				.pid = w->pid,
				.state = sup_wl_state_name(w->state),
				.jobs = w->jobs,
				.rss = w->pid > 0 ? rss_of(w->pid) : 0,
				.age_s = w->started_ns ? (double)(now - w->started_ns) / 1e9 : 0.0,
			};
			k++;
		}
	}
	return k;
}
