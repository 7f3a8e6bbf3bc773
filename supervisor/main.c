/*
 * supervisor/main.c: avwarden, the supervisor. Runs in the foreground under
 * the MTA or systemd.
 *
 * Reads top to bottom: config, log, listeners and control socket (bound as
 * root, before anything else runs), the scanner pool, then the loop. Ready
 * is signalled (systemd notify, --ready-fd) once the first scanner
 * generation has loaded its database and the sockets accept. SIGTERM (and
 * SHUTDOWN) drain: no new work, every accepted request answered, exit 0.
 */
#define _GNU_SOURCE
#include <uv.h>

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../platform/plat.h"
#include "../privileges/priv.h"
#include "config.h"
#include "control.h"
#include "metrics.h"
#include "fromclamd.h"
#include "pool.h"
#include "session.h"
#include "shared.h"
#include "addr.h"
#include "sockets.h"

static struct {
	uv_loop_t *loop;
	struct sup_config cfg;
	const char *cfg_path;
	uv_signal_t sigterm, sigint, sighup, sigusr2;
	uv_timer_t parent_timer;
	pid_t parent;         /* --exit-with-parent: the process that started us */
	uv_timer_t drain_timer;
	uv_timer_t shutdown_timer;  /* a shutdown asked for inside a callback starts on the next turn */
	char shutdown_why[128];
	int ready_fd;
	int stopping;
	int pool_drained;
	int conns_idle;
	int finished;
} M = { .ready_fd = -1 };

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: avwarden -c FILE [--check-config] [--ready-fd N] [--exit-with-parent]\n"
	    "       avwarden --from-clamd-conf CLAMD.CONF > avwarden.conf\n"
	    "  -c, --config FILE     configuration file\n"
	    "      --check-config    validate the configuration and exit\n"
	    "      --from-clamd-conf CLAMD.CONF  print an equivalent avwarden configuration; name,\n"
	    "                        on standard error, every clamd option it cannot carry over\n"
	    "      --ready-fd N      write a newline to fd N once serving\n"
	    "      --exit-with-parent  drain and exit when the process that started avwarden dies\n"
	    "  -V, --version         print the version and exit\n"
	    "Runs in the foreground; stop it with SIGTERM. SIGHUP reopens scanner_log,\n"
	    "SIGUSR2 reloads the signature database (as avwardenctl reload).\n");
}

static void finish(void)
{
	if (M.finished || !M.pool_drained || !M.conns_idle)
		return;
	M.finished = 1;
	(void)uv_timer_stop(&M.drain_timer);
	uv_close((uv_handle_t *)&M.drain_timer, NULL);
	uv_close((uv_handle_t *)&M.shutdown_timer, NULL);
	sup_pool_close();
	uv_close((uv_handle_t *)&M.sigterm, NULL);
	uv_close((uv_handle_t *)&M.sigint, NULL);
	uv_close((uv_handle_t *)&M.sighup, NULL);
	uv_close((uv_handle_t *)&M.sigusr2, NULL);
	if (M.parent > 0)
		uv_close((uv_handle_t *)&M.parent_timer, NULL);
	log_info("stopped", "reason=\"drained\"");
}

static void pool_drained(void)
{
	M.pool_drained = 1;
	finish();
}

static void conns_idle(void)
{
	M.conns_idle = 1;
	finish();
}

static void drain_timeout(uv_timer_t *t)
{
	(void)t;
	log_warnx("shutdown", "reason=\"drain took too long; stopping scans in flight\"");
	M.pool_drained = 1;
	M.conns_idle = 1;
	finish();
}

/* A graceful shutdown (SIGTERM, SHUTDOWN, avwardenctl shutdown): no new
 * work, every accepted request answered. */
static void shutdown_now(uv_timer_t *t)
{
	(void)t;
	log_info("shutdown", "reason=\"%s\"", M.shutdown_why);
	(void)plat_sd_notify("STOPPING=1");
	/* In-flight scans get their full timeout, plus a little to answer. */
	(void)uv_timer_start(&M.drain_timer, drain_timeout, ((uint64_t)M.cfg.timeout + 5) * 1000, 0);
	sup_control_stop();
	sup_metrics_stop();
	sup_sockets_stop();
	sup_pool_drain(pool_drained);
	sup_sessions_stop(conns_idle);
}

/*
 * Asked for from a session's or the console's callback: started on the
 * next loop turn, so no connection list is torn down while a connection's
 * own code is on the stack.
 */
static void request_shutdown(const char *why)
{
	if (M.stopping)
		return;
	M.stopping = 1;
	snprintf(M.shutdown_why, sizeof(M.shutdown_why), "%s", why);
	(void)uv_timer_start(&M.shutdown_timer, shutdown_now, 0, 0);
}

static int reopen_logs(char *err, size_t errlen)
{
	int rc = plat_log_open(M.cfg.scanner_log);

	if (rc < 0) {
		snprintf(err, errlen, "cannot reopen scanner_log %s: %s", M.cfg.scanner_log, strerror(-rc));
		log_errx("log_reopen", "path=%s error=\"%s\" action=\"still writing to the old file\"",
		    M.cfg.scanner_log, strerror(-rc));
		return -1;
	}
	log_info("log_reopen", "path=%s", M.cfg.scanner_log[0] ? M.cfg.scanner_log : "(stderr)");
	return 0;
}

static const struct sup_session_ops session_ops = { .shutdown = request_shutdown };
static const struct sup_control_ops control_ops = { .shutdown = request_shutdown, .reopen_logs = reopen_logs };

static void on_signal(uv_signal_t *h, int sig)
{
	char err[256];

	(void)h;
	if (sig == SIGHUP) {
		(void)reopen_logs(err, sizeof(err));
		return;
	}
	if (sig == SIGUSR2) {
		sup_pool_reload("SIGUSR2", NULL, NULL);
		return;
	}
	request_shutdown(sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

/*
 * --exit-with-parent: the kernel sends SIGTERM when the parent goes
 * (PR_SET_PDEATHSIG), which starts the usual drain. The parent may already
 * be gone before the call took effect, so it is also checked once a second.
 */
static void parent_check(uv_timer_t *t)
{
	(void)t;
	if (getppid() != M.parent)
		request_shutdown("parent process exited");
}

static void on_ready(void)
{
	log_info("ready", "version=%s", AVW_VERSION);
	plat_sd_notify("READY=1");
	if (M.ready_fd >= 0) {
		(void)plat_write_all(M.ready_fd, "\n", 1);
		close(M.ready_fd);
		M.ready_fd = -1;
	}
}

#define WHERE(key) sup_config_where(M.cfg_path, M.cfg.line_##key, #key, where, sizeof(where))

/*
 * The directories the unix sockets go in: a missing one is told, not
 * failed (systemd's RuntimeDirectory= creates /run/avwarden at start; a
 * start without it fails naming the directory).
 */
static void check_socket_dirs(void)
{
	char err[512], where[600];

	for (size_t i = 0; i < M.cfg.nlisten; i++) {
		struct sup_listen_spec sp;
		if (sup_listen_parse(M.cfg.listen[i], &sp, err, sizeof(err)) == 0 && sp.is_unix &&
		    sup_socket_dir_check(sp.path, err, sizeof(err)) < 0) {
			fprintf(stderr, "avwarden: %s: note: listen: %s; a start fails unless it exists by then\n",
			    WHERE(listen), err);
		}
	}
	if (sup_socket_dir_check(M.cfg.control_socket, err, sizeof(err)) < 0)
		fprintf(stderr, "avwarden: %s: note: control_socket: %s; a start fails unless it exists by then\n",
		    WHERE(control_socket), err);
}

/* --check-config: everything a start would trip over, without starting. */
static int check_config(void)
{
	char where[600];
	struct stat st;
	uid_t uid;
	gid_t gid;
	int bad = 0;

	check_socket_dirs();
	if (access(M.cfg.scanner_path, X_OK) < 0) {
		fprintf(stderr, "avwarden: %s: scanner_path %s: %s\n", WHERE(scanner_path), M.cfg.scanner_path,
		    strerror(errno));
		bad = 1;
	}
	if (stat(M.cfg.database, &st) < 0) {
		fprintf(stderr, "avwarden: %s: database %s: %s\n", WHERE(database), M.cfg.database, strerror(errno));
		bad = 1;
	}
	if (geteuid() == 0) {
		int rc = priv_lookup_user(M.cfg.user, &uid, &gid);
		if (rc < 0) {
			fprintf(stderr, "avwarden: %s: user %s: %s (make install creates it; or: useradd --system "
			    "--user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin %s; "
			    "an account of its own, not nobody)\n",
			    WHERE(user), M.cfg.user, rc == -ENOENT ? "no such user" : strerror(-rc), M.cfg.user);
			bad = 1;
		} else if (uid == 0) {
			fprintf(stderr, "avwarden: %s: user %s is root; scanners must run unprivileged\n",
			    WHERE(user), M.cfg.user);
			bad = 1;
		}
	}
	if (!bad)
		printf("%s: OK\n", M.cfg_path);
	return bad;
}

/* Options into M; -1 to go on, else the exit status. */
static int parse_options(int argc, char **argv, int *check)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "ready-fd", required_argument, NULL, 'r' },
		{ "exit-with-parent", no_argument, NULL, 'P' },
		{ "from-clamd-conf", required_argument, NULL, 'F' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *clamd_conf = NULL;
	char *end;
	long fd;
	int c;

	while ((c = getopt_long(argc, argv, "c:Vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': M.cfg_path = optarg; break;
		case 'C': *check = 1; break;
		case 'r':
			fd = strtol(optarg, &end, 10);
			if (*end != '\0' || fd < 0 || fd > 65535) {
				fprintf(stderr, "avwarden: --ready-fd: not a descriptor number: %s\n", optarg);
				return 2;
			}
			M.ready_fd = (int)fd;
			break;
		case 'P': M.parent = getppid(); break;
		case 'F': clamd_conf = optarg; break;
		case 'V': printf("avwarden %s\n", AVW_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	/* A conversion only: nothing of the daemon starts. */
	if (clamd_conf != NULL) {
		if (M.cfg_path != NULL || *check || M.ready_fd >= 0 || M.parent > 0 || optind != argc) {
			fprintf(stderr, "avwarden: --from-clamd-conf takes a clamd.conf and no other option\n");
			return 2;
		}
		return sup_fromclamd(clamd_conf, stdout, stderr);
	}
	if (M.cfg_path == NULL || optind != argc) {
		usage(stderr);
		return 2;
	}
	return -1;
}

/* Signals, the parent watch and our timers. */
static void start_handles(void)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR2 };
	uv_signal_t *h[] = { &M.sigterm, &M.sigint, &M.sighup, &M.sigusr2 };

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (uv_signal_init(M.loop, h[i]) < 0 || uv_signal_start(h[i], on_signal, sigs[i]) < 0)
			fatalx("startup", "reason=\"cannot handle %s\"", plat_signame(sigs[i]));
	if (M.parent > 0 && (uv_timer_init(M.loop, &M.parent_timer) < 0 ||
	    uv_timer_start(&M.parent_timer, parent_check, 0, 1000) < 0))
		fatalx("startup", "reason=\"cannot watch the parent process\"");
	if (uv_timer_init(M.loop, &M.drain_timer) < 0 || uv_timer_init(M.loop, &M.shutdown_timer) < 0)
		fatalx("startup", "reason=\"cannot initialise timers\"");
}

int main(int argc, char **argv)
{
	char err[1024], where[600];
	int check = 0, rc;

	if ((rc = parse_options(argc, argv, &check)) >= 0)
		return rc;
	if (sup_config_load(M.cfg_path, &M.cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "avwarden: %s\n", err);
		return 1;
	}
	if (check) {
		rc = check_config();
		sup_config_free(&M.cfg);
		return rc;
	}

	plat_log_init("avwarden", 1);
	if ((rc = plat_log_open(M.cfg.scanner_log)) < 0) {
		fprintf(stderr, "avwarden: scanner_log %s: %s\n", M.cfg.scanner_log, strerror(-rc));
		return 1;
	}
	if (M.cfg.syslog)
		plat_log_syslog("avwarden", M.cfg.syslog_facility);
	if (M.parent > 0 && prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) < 0)
		fatal("startup", "step=exit_with_parent");
	signal(SIGPIPE, SIG_IGN);
	/*
	 * Path scans open files with the client's uid and gid (peerfs.c);
	 * supplementary groups of our own would lend them access they lack.
	 */
	if (geteuid() == 0 && setgroups(0, NULL) < 0)
		fatal("startup", "step=setgroups");
	M.loop = uv_default_loop();

	sup_sessions_init(M.loop, &M.cfg, &session_ops);
	if (sup_sockets_start(M.loop, &M.cfg, err, sizeof(err)) < 0 ||
	    sup_control_start(M.loop, M.cfg.control_socket, M.cfg.control_socket_mode, &control_ops,
	    err, sizeof(err)) < 0 ||
	    (M.cfg.metrics_listen[0] != '\0' && sup_metrics_start(M.loop, M.cfg.metrics_listen, err, sizeof(err)) < 0) ||
	    sup_shared_start(M.loop, &M.cfg, err, sizeof(err)) < 0)
		fatalx("startup", "reason=\"%s\"", err);
	start_handles();

	rc = sup_pool_init(M.loop, &M.cfg, on_ready);
	if (rc == -ENOENT)
		fatalx("startup", "reason=\"user %s does not exist\" where=\"%s\" fix=\"create it (useradd --system %s) or set user\"",
		    M.cfg.user, WHERE(user), M.cfg.user);
	if (rc == -EPERM)
		fatalx("startup", "reason=\"user %s is root\" where=\"%s\" fix=\"scanners must run as an unprivileged user\"",
		    M.cfg.user, WHERE(user));
	if (rc < 0)
		fatalx("startup", "reason=\"%s\"", strerror(-rc));
	log_info("start", "version=%s config=%s max_concurrency=%u timeout=%us",
	    AVW_VERSION, M.cfg_path, M.cfg.max_concurrency, M.cfg.timeout);

	(void)uv_run(M.loop, UV_RUN_DEFAULT);
	sup_sockets_free();
	sup_pool_free();
	(void)uv_loop_close(M.loop);
	sup_config_free(&M.cfg);
	return 0;
}
