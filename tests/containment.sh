#!/bin/sh
# tests/containment.sh: a compromised worker, attacking from inside. The
# test scanner (avwarden-scanner-faulty) runs, after the real lock-down of a
# real worker forked by the real host under the real supervisor, what an
# exploit inside libclamav would try next (tests/attack.c), chosen by the
# job's bytes ("AVWARDEN-ATTACK:NAME:ARG"). Each check is named after its
# attack and asserts the outcome DESIGN.md fixes: refused with an errno,
# or the worker killed by SIGSYS with the syscall named in the log and the
# job answered ERROR. After every attack the next request is served and the
# supervisor still runs; at the end its descriptors are where they started.
# usage: tests/containment.sh BUILD_DIR   (root; kernel with seccomp,
# Landlock and unprivileged user namespaces, as integration.sh)
set -u
SUITE=containment
. "$(dirname "$0")/lib.sh"
FAULTY=$B/tests/avwarden-scanner-faulty

alive() { kill -0 "$DAEMON_PID" 2>/dev/null; }
n=0
# attack NAME [ARG]: the reply to the attack job.
attack() {
	n=$((n + 1))
	printf 'AVWARDEN-ATTACK:%s:%s\n%s\n' "$1" "${2:-}" "$n-$$" > "$T/attack.job"
	$CLIENT $SOCK instream "$T/attack.job" | vis
}
# A message with EICAR that no cache has seen: a fresh worker must scan it.
fresh_eicar() {
	n=$((n + 1))
	{ cat "$T/eicar.com"; printf '\n%s-%s\n' "$n" "$$"; } > "$T/fresh"
	$CLIENT $SOCK instream "$T/fresh" | vis
}
served() {
	r=$(fresh_eicar)
	case "$r" in "stream: Eicar-Test-Signature.UNOFFICIAL FOUND|")
		alive && return 0;; esac
	echo "     next request: [$r]"
	return 1
}
# refused NAME ARG OUTCOME: the call came back with OUTCOME (an errno).
refused() {
	r=$(attack "$1" "$2")
	check "$1${2:+ $2}: $3" "stream: Attack.$1.$3 FOUND|" "$r"
	served && ok "$1: next request served" || bad "$1: next request served"
}
# killed NAME ARG SYSCALL: SIGSYS in SYSCALL, job ERROR, the log names it.
killed() {
	r=$(attack "$1" "$2")
	check "$1${2:+ $2}: killed in $3, job ERROR" "stream: sandbox violation: syscall $3 ERROR|" "$r"
	wait_for "violation logged" grep -q "sandbox_violation worker=[0-9]* pid=[0-9]* syscall=$3 job=[1-9]" "$D/scanner.log" &&
		ok "$1: log names syscall $3" || bad "$1: log names syscall $3"
	served && ok "$1: next request served" || bad "$1: next request served"
}
worker_pids() { pgrep -P "$HOST" | paste -sd, -; }

###########################################################################
echo "# a worker attacks: files"
write_conf attack "$FAULTY" 'scanner_tmp_size = 64M' 'canary = false'
start attack || exit 1
D=$T/attack
HOST=$(scanner_host)
wait_for "pool settled" pool_settled "$D" || bad "pool settled"
fds0=$(ls /proc/$DAEMON_PID/fd | wc -l)
served && ok "the faulty scanner scans normally" || bad "the faulty scanner scans"

refused open-passwd "" EACCES
refused open-proc-mem self EACCES
refused open-proc-mem "$HOST" EACCES
refused open-proc-mem "$DAEMON_PID" EACCES
refused open-proc-fd "$(worker_pids)" EACCES
killed open-o-path "" openat
refused sibling-tmp-write "" EACCES
refused sibling-tmp-list "" EACCES
refused host-tmp-write "" EACCES
refused chmod "" EPERM
refused fchmod "" EPERM
refused chown "" EPERM
[ -z "$(find / -xdev -perm -4000 -user avwarden 2>/dev/null | head -1)" ] &&
	ok "chmod: no setuid file of the scanner's account anywhere" || bad "chmod: setuid file found"

echo "# a worker fills its temp space: the next scans, on fresh workers, still unpack"
r=$(attack fill-tmp)
case "$r" in "stream: Attack.fill-tmp.ENOSPC."*"MB FOUND|") ok "fill-tmp: ENOSPC at its own tmpfs's size ($r)";;
*) bad "fill-tmp: ENOSPC" "$r";; esac
# An infected zip inside a base64 attachment needs temp files at every
# level; every mail unique, more of them than there are worker slots.
wrong=0
for i in 1 2 3 4 5 6 7 8; do
	{
		printf 'From: a@example.org\nTo: b@example.org\nSubject: fill %s\nMessage-ID: <%s.%s@example.org>\n' "$i" "$i" "$$"
		printf 'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\nhi %s\n' "$i"
		printf -- '--B\nContent-Type: application/zip; name=x.zip\nContent-Transfer-Encoding: base64\n\n'
		base64 "$TESTFILES/clam.zip"
		printf -- '--B--\n'
	} > "$T/zipmail"
	r=$($CLIENT $SOCK instream "$T/zipmail" | vis)
	case "$r" in *" FOUND|") ;; *) wrong=$((wrong + 1)); echo "     mail $i: $r";; esac
done
check "fill-tmp: 8 infected archive mails after it, all FOUND" 0 "$wrong"

###########################################################################
echo "# a worker attacks: the network"
killed socket-unix "" socket
killed socket-inet "" socket
killed socket-netlink "" socket
killed socketpair "" socketpair
killed connect-abstract "" connect

echo "# a worker attacks: other processes"
SLEEPER_PID=""
setpriv --reuid=avwarden --regid=avwarden --clear-groups sleep 600 &
SAME_UID=$!
killed kill "$HOST" kill
killed kill "$DAEMON_PID" kill
killed kill 1 kill
killed kill "$(worker_pids)" kill
killed kill "$SAME_UID" kill
killed kill-all "" kill
killed ptrace "$HOST" ptrace
killed ptrace "$(worker_pids)" ptrace
killed process-vm-readv "$HOST" process_vm_readv
killed process-vm-writev "$(worker_pids)" process_vm_writev
killed prlimit "$(worker_pids)" prlimit64
killed prlimit "$HOST" prlimit64
killed prlimit "$SAME_UID" prlimit64
killed pidfd-open "$HOST" pidfd_open
check "the same-uid process outside is untouched" "$(ulimit -n)" "$(awk '/^Max open files/ {print $4}' /proc/$SAME_UID/limits 2>/dev/null)"
kill "$SAME_UID" 2>/dev/null

echo "# a worker attacks: new code, new processes, new namespaces"
killed execve "" execve
killed fork-bomb "" clone
killed vfork "" vfork
killed clone3 "" clone3
killed thread "" clone
killed mprotect-exec "" mprotect
killed mmap-exec "" mmap
killed pkey-mprotect "" pkey_mprotect
killed unshare-user "" unshare
killed setns "" setns
killed bpf "" bpf
killed io-uring "" io_uring_setup
killed userfaultfd "" userfaultfd
killed ioctl-tiocsti "" ioctl
refused raise-limit "" EPERM
refused balloon "" ENOMEM

###########################################################################
echo "# a worker attacks: what it holds, and the next sender's mail"
r=$(attack write-engine)
check "write-engine: it may scribble on its own copy" "stream: Attack.write-engine.written FOUND|" "$r"
wrong=0
for i in 1 2 3 4 5 6; do served || wrong=$((wrong + 1)); done
check "write-engine: 6 fresh workers after it still find EICAR" 0 "$wrong"
SECRET="AVW-SECRET-$$-7c1d"
printf 'From: other@example.org\nSubject: private\n\nthe secret is %s\n' "$SECRET" > "$T/secret.eml"
check "another sender's mail scanned first" "stream: OK|" "$($CLIENT $SOCK instream "$T/secret.eml" | vis)"
check "read-previous: that mail is nowhere in what the next worker holds" \
	"stream: Attack.read-previous.absent FOUND|" "$(attack read-previous "$(printf '%s' "$SECRET" | rev)")"
check "read-previous: its own job it can see (the search works)" \
	"stream: Attack.read-previous.LEAKED FOUND|" "$(attack read-previous "$(printf 'AVWARDEN-ATTACK' | rev)")"
r=$(attack write-stderr)
check "write-stderr: the write goes through" "stream: Attack.write-stderr.written FOUND|" "$r"
grep -q FORGED-BY-WORKER "$D/scanner.log" "$D/stderr" && bad "write-stderr: the forged line reached a log" ||
	ok "write-stderr: the forged line reached no log (fd 2 is /dev/null)"

echo "# a worker lies"
for f in forge-seq forge-other-job forge-status forge-name-unterminated forge-name-control forge-more-names; do
	r=$(attack "$f")
	case "$r" in "stream: malformed result from scanner: "*" ERROR|") ok "$f: refused, job ERROR ($r)";;
	*) bad "$f: refused, job ERROR" "$r";; esac
	served && ok "$f: next request served" || bad "$f: next request served"
done
wait_for "worker_malformed logged" grep -q 'worker_malformed' "$D/scanner.log" &&
	ok "log: worker_malformed" || bad "log: worker_malformed"
# Its own verdict it may choose; the second answer is never read (the
# worker retires after one), and a worker that does not exit is killed.
check "forge-twice: the first answer stands, for its own message" "stream: OK|" "$(attack forge-twice)"
wait_for "retire timeout" grep -q 'worker_retire_timeout' "$D/scanner.log" &&
	ok "forge-twice: the worker that would not retire is killed" || bad "forge-twice: retire timeout"
served && ok "forge-twice: next request served" || bad "forge-twice: next request served"
r=$(attack late-violation)
check "late-violation: its own answer stands" "stream: OK|" "$r"
wait_for "idle violation logged" grep -q 'sandbox_violation worker=[0-9]* pid=[0-9]* syscall=socket job=0 while=idle' "$D/scanner.log" &&
	ok "late-violation: named in the log with no job in flight" || bad "late-violation: log" "$(grep sandbox_violation "$D/scanner.log" | tail -2)"

###########################################################################
echo "# the supervisor after all of it"
alive && ok "supervisor alive" || bad "supervisor alive"
fds_back() { pool_settled "$D" && [ "$(ls /proc/$DAEMON_PID/fd | wc -l)" -eq "$fds0" ]; }
wait_for "descriptors back" fds_back &&
	ok "supervisor descriptors back to $fds0" || bad "supervisor descriptors" "$fds0 -> $(ls /proc/$DAEMON_PID/fd | wc -l)"
check "the same host still serves (no worker reached it)" "$HOST" "$(scanner_host)"
stop && ok "stopped cleanly" || bad "stopped cleanly"

###########################################################################
echo "# the host: its own seccomp filter, its stderr a pipe to the log"
cat > "$T/host-violates.sh" <<SH
#!/bin/sh
echo "wrapper: starting the scanner host" >&2
AVW_FAULT_HOST=syscall=\$(cat $T/host-syscall) exec $FAULTY "\$@"
SH
chmod 755 "$T/host-violates.sh"
# Never ready (each host dies right after READY): started without waiting.
for sc in unshare:unshare netlink:socket execve:execve ptrace:ptrace; do
	echo "${sc%%:*}" > "$T/host-syscall"
	chmod 644 "$T/host-syscall"
	write_conf "host-${sc%%:*}" "$T/host-violates.sh" 'canary = false'
	D=$T/host-${sc%%:*}
	"$B/avwarden" -c "$D/avwarden.conf" 2>"$D/stderr" &
	DAEMON_PID=$!
	wait_for "host violation" grep -qs "sandbox_violation gen=1 host_pid=[0-9]* syscall=${sc#*:} while=host" "$D/scanner.log" &&
		ok "host ${sc%%:*}: killed, the log names syscall ${sc#*:}" ||
		bad "host ${sc%%:*}: log" "$(grep -v ' scan ' "$D/scanner.log" | tail -3)"
	alive && ok "host ${sc%%:*}: supervisor alive" || bad "host ${sc%%:*}: supervisor alive"
	[ "${sc%%:*}" = ptrace ] && {
		# READY is no success when the host dies right after it: 1 s, 2 s, 4 s.
		# (Its death is reported as the violation, or, when it dies before
		# its first worker is up, as no worker started: a back-off either way.)
		wait_for "third restart" grep -qs 'host_failed reason="[^"]*" retry_in=4000ms' "$D/scanner.log" &&
			ok "a host that violates right after READY backs off (1 s, 2 s, 4 s)" ||
			bad "host back-off" "$(grep host_failed "$D/scanner.log" | tail -3)"
	}
	stop || bad "host ${sc%%:*}: stopped cleanly"
done
grep -q 'scanner_stderr gen=1 pid=[0-9]* line="wrapper: starting the scanner host"' "$D/scanner.log" &&
	ok "the wrapper's stderr reaches the log as scanner_stderr" || bad "wrapper stderr in the log"
grep -q '^wrapper: starting' "$D/stderr" && bad "the wrapper's stderr is the supervisor's own" ||
	ok "the wrapper's stderr is not the supervisor's own"

###########################################################################
echo "# an operator's debugger: strace on the host, and on a worker through a scan, kills neither"
# Attaching stops a process in its wait; the kernel may resume the wait
# with restart_syscall, which the filters must allow (a SIGSTOP and SIGCONT
# from outside does the same). One worker, so the traced one scans.
write_conf traced "$B/avwarden-scanner" 'canary = false' 'max_concurrency = 1' 'spare_workers = 1'
start traced || exit 1
D=$T/traced
HOST=$(scanner_host)
strace -q -p "$HOST" -o "$T/strace.host" &
spid=$!
# strace prints the resumed wait on entry; a filter that refuses it kills
# the host right there, before strace is told to let go.
wait_for "strace resumes the host's wait" grep -q 'restart_syscall' "$T/strace.host" ||
	bad "strace resumes the host's wait"
kill -INT $spid
wait $spid
check "traced host: not killed by its filter" 0 "$(grep -c 'killed by SIGSYS' "$T/strace.host")"
check "traced host: still there after strace let go" "$HOST" "$(scanner_host)"
wait_for "a spare worker" sh -c "pgrep -P $HOST >/dev/null"
WORKER=$(pgrep -P "$HOST" | head -1)
strace -q -p "$WORKER" -o "$T/strace.worker" &
spid=$!
wait_for "strace attached to the worker" sh -c "grep -q '^TracerPid:[[:space:]]*$spid\$' /proc/$WORKER/status"
check "a scan by the traced worker" "stream: Eicar-Test-Signature.UNOFFICIAL FOUND|" "$($CLIENT $SOCK instream "$T/eicar.com" | vis)"
# the worker ends after its one job, and strace with it
wait $spid
check "traced worker: not killed by its filter" 0 "$(grep -c 'killed by SIGSYS' "$T/strace.worker")"
check "traced worker: it scanned under strace" 1 "$(grep -c '+++ exited with 0 +++' "$T/strace.worker")"
kill -STOP "$HOST" && kill -CONT "$HOST"
check "the host lives through strace and SIGSTOP" "$HOST" "$(scanner_host)"
check "no sandbox violation logged" 0 "$(grep -c sandbox_violation "$D/scanner.log")"
check "scans go on" "stream: Eicar-Test-Signature.UNOFFICIAL FOUND|" "$($CLIENT $SOCK instream "$T/eicar.com" | vis)"
stop && ok "stopped cleanly" || bad "stopped cleanly"

finish
