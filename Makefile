# avwarden: sandboxed antivirus scanning for mail servers.
# `make help` lists the targets.

BUILD     ?= build
CC        ?= cc
PKGS      := libuv libclamav libseccomp libconfuse libcrypto libmicrohttpd hiredis
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# The supervisor never links libclamav: it does not parse message content.
SUP_LIBS   = $(shell pkg-config --libs libuv libseccomp libconfuse libcrypto libmicrohttpd hiredis 2>/dev/null)
SCAN_LIBS  = $(shell pkg-config --libs libclamav libseccomp zlib liblzma 2>/dev/null) -lbz2
CMOCKA_LIBS = $(shell pkg-config --libs cmocka 2>/dev/null)

# Install locations (`make install`); DESTDIR is prepended to every one.
PREFIX     ?= /usr/local
SBINDIR    ?= $(PREFIX)/sbin
BINDIR     ?= $(PREFIX)/bin
LIBEXECDIR ?= $(PREFIX)/libexec/avwarden
MANDIR     ?= $(PREFIX)/share/man
DOCDIR     ?= $(PREFIX)/share/doc/avwarden
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
# logrotate reads only /etc/logrotate.d; set LOGROTATEDIR=/etc/logrotate.d
# with another prefix to have the rotation take effect.
LOGROTATEDIR ?= $(SYSCONFDIR)/logrotate.d

WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes
HARDEN  := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
CFLAGS  ?= -O2 -g
ALL_CFLAGS = -std=gnu11 $(WARN) $(HARDEN) $(CFLAGS) $(SAN) $(PKG_CFLAGS) \
	-DAVW_SCANNER_DEFAULT='"$(LIBEXECDIR)/avwarden-scanner"'
ALL_LDFLAGS = -pie -Wl,-z,relro,-z,now $(LDFLAGS) $(SAN)

PLATFORM  := platform/plat.c
IPC       := ipc/msg.c ipc/chan.c ipc/gather.c ipc/text.c ipc/codes.c
PRIV      := privileges/spawn.c privileges/host.c privileges/pidns.c privileges/worker.c privileges/landlock.c privileges/seccomp.c
# The supervisor, by layer: configuration; the pool (verdict memory, queue,
# generations, slots, the host link, the database watch); the clients
# (sockets, sessions, path scans, replies, the console); main.
SUP_CONF  := supervisor/config.c supervisor/conftext.c supervisor/addr.c
SUP_POOL  := supervisor/pool.c supervisor/queue.c supervisor/verdicts.c supervisor/cache.c supervisor/genquery.c \
	supervisor/poison.c supervisor/gen.c supervisor/slot.c supervisor/lifecycle.c \
	supervisor/hostlink.c supervisor/dbwatch.c supervisor/stats.c supervisor/canary.c supervisor/join.c \
	supervisor/shared.c
SUP_CLIENTS := supervisor/sockets.c supervisor/peertcp.c supervisor/session.c supervisor/conn.c supervisor/commands.c supervisor/pathscan.c supervisor/peerfs.c \
	supervisor/reply.c supervisor/clamd.c supervisor/control.c supervisor/metrics.c
# --from-clamd-conf: a clamd.conf read as clamd reads it, converted.
SUP_FROMCLAMD := supervisor/fromclamd.c supervisor/fromclamdmap.c supervisor/clamdconf.c supervisor/clamdopts.c
SUP_SRC   := supervisor/main.c $(SUP_CONF) $(SUP_POOL) $(SUP_CLIENTS) $(SUP_FROMCLAMD)
# The engine and what a scan learns of its layers (tests link these too).
SCAN_ENGINE := scanner/engine.c scanner/layers.c scanner/zipcheck.c scanner/contcheck.c scanner/tripwire.c
SCAN_SRC  := scanner/host.c scanner/worker.c scanner/engmap.c $(SCAN_ENGINE)

# `make V=1` shows the compiler command lines.
Q := $(if $(V),,@)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
fobj = $(patsubst %.c,$(BUILD)/objf/%.o,$(1))

PROGS := $(BUILD)/avwarden $(BUILD)/avwarden-scanner $(BUILD)/avwardenctl
TESTS := $(BUILD)/tests/test_config $(BUILD)/tests/test_clamd $(BUILD)/tests/test_ipc \
	$(BUILD)/tests/test_sandbox $(BUILD)/tests/test_lifecycle $(BUILD)/tests/test_cache $(BUILD)/tests/test_shared
TOOLS := $(BUILD)/tests/avwarden-scanner-faulty $(BUILD)/tests/inproc-scan $(BUILD)/tests/clamd-client \
	$(BUILD)/tests/bench-inproc $(BUILD)/tests/hangfs

.PHONY: all deps db run check unit integration asan bench install uninstall clean help FORCE
all: $(PROGS) $(TESTS) $(TOOLS) db

help:
	@echo "make            build avwarden, avwarden-scanner, avwardenctl and the tests into $(BUILD)/"
	@echo "make deps       install missing Debian packages (apt-get; needs root)"
	@echo "make run        deps + build + start avwarden in the foreground on the bundled database"
	@echo "make check      deps + build + every test (unit, sandbox, integration, supervision,"
	@echo "                survival, torture, operations, mta, postfix, client, protocol, fromclamd,"
	@echo "                evasion, metrics, shared, multinode, install),"
	@echo "                then the same under ASan/UBSan, the supervisor under valgrind,"
	@echo "                then 15 s of each fuzz target"
	@echo "make unit       cmocka unit and sandbox tests only"
	@echo "make integration  the daemon-level suites (integration to install) without ASan"
	@echo "make asan       the whole test suite built with ASan and UBSan (clang)"
	@echo "make fuzz       libFuzzer on the clamd parser, INSTREAM framer, wire decoder and"
	@echo "                whole sessions (real session code, fake pool),"
	@echo "                FUZZ_TIME=$(FUZZ_TIME) s each (clang; tree $(FUZZ_BUILD)/, corpus kept there)"
	@echo "                then make valgrind"
	@echo "make fuzz-short the same, $(FUZZ_SHORT_TIME) s each (part of make check)"
	@echo "make valgrind   the torture suite with the supervisor under valgrind's memcheck"
	@echo "make bench      avwarden (one message per process, and reused workers) vs clamd vs"
	@echo "                in-process libclamav, unique mail, large and small database:"
	@echo "                req/s, latency, CPU per request of the process tree, memory, ratios"
	@echo "make db         generate the test/default signature database in $(BUILD)/db"
	@echo "make client     libavwarden (.a, .so, avwarden.pc) and avwarden-scan only (make builds them too)"
	@echo "make install    install programs, config, systemd unit, logrotate file, man pages,"
	@echo "                libavwarden, avwarden.h, avwarden.pc and avwarden-scan"
	@echo "                (PREFIX=$(PREFIX), DESTDIR for staging; never overwrites a config)"
	@echo "make uninstall  remove what make install installed, except the config"
	@echo "make clean      remove $(BUILD)/"

deps:
	@sh scripts/deps.sh

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

# The fault-injecting scanner is a separate compilation: production objects
# never contain the hooks.
$(BUILD)/objf/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $< (fault injection)")
	$(Q)$(CC) $(ALL_CFLAGS) -DAVW_FAULT_INJECTION -MMD -MP -c $< -o $@

$(BUILD)/avwarden: $(call obj,$(SUP_SRC) $(IPC) $(PLATFORM) $(PRIV))
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $^ -o $@ $(ALL_LDFLAGS) $(SUP_LIBS)

$(BUILD)/avwarden-scanner: $(call obj,$(SCAN_SRC) $(IPC) $(PLATFORM) $(PRIV))
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $^ -o $@ $(ALL_LDFLAGS) $(SCAN_LIBS)

$(BUILD)/avwardenctl: $(call obj,supervisor/avwardenctl.c $(PLATFORM))
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $^ -o $@ $(ALL_LDFLAGS)

$(BUILD)/tests/avwarden-scanner-faulty: $(call fobj,$(SCAN_SRC) $(IPC) $(PLATFORM) $(PRIV) tests/fault.c tests/attack.c)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $^ -o $@ $(ALL_LDFLAGS) $(SCAN_LIBS)

$(BUILD)/tests/inproc-scan: $(call obj,tests/inproc_scan.c $(SCAN_ENGINE) $(IPC))
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $^ -o $@ $(ALL_LDFLAGS) $(SCAN_LIBS)

$(BUILD)/tests/bench-inproc: $(call obj,tests/bench_inproc.c $(SCAN_ENGINE) $(IPC) $(PLATFORM))
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $^ -o $@ $(ALL_LDFLAGS) $(SCAN_LIBS) -lpthread

# A FUSE file system whose reads never return (tests/survival.sh).
$(BUILD)/tests/hangfs: $(call obj,tests/hangfs.c)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $^ -o $@ $(ALL_LDFLAGS) $(shell pkg-config --libs fuse3 2>/dev/null)
$(BUILD)/obj/tests/hangfs.o: ALL_CFLAGS += $(shell pkg-config --cflags fuse3 2>/dev/null)

$(BUILD)/tests/clamd-client: $(call obj,tests/clamd_client.c $(PLATFORM))
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $^ -o $@ $(ALL_LDFLAGS)

$(BUILD)/tests/test_config: $(call obj,tests/test_config.c $(SUP_CONF) $(PLATFORM))
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $^ -o $@ $(ALL_LDFLAGS) $(SUP_LIBS) $(SCAN_LIBS) $(CMOCKA_LIBS)

$(BUILD)/tests/test_clamd: $(call obj,tests/test_clamd.c supervisor/clamd.c $(IPC))
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $^ -o $@ $(ALL_LDFLAGS) $(SUP_LIBS) $(SCAN_LIBS) $(CMOCKA_LIBS)

$(BUILD)/tests/test_lifecycle: $(call obj,tests/test_lifecycle.c supervisor/lifecycle.c)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $^ -o $@ $(ALL_LDFLAGS) $(CMOCKA_LIBS)

$(BUILD)/tests/test_cache: $(call obj,tests/test_cache.c supervisor/cache.c supervisor/poison.c $(PLATFORM))
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $^ -o $@ $(ALL_LDFLAGS) $(SUP_LIBS) $(CMOCKA_LIBS)

$(BUILD)/tests/test_shared: $(call obj,tests/test_shared.c supervisor/shared.c supervisor/stats.c supervisor/addr.c \
	$(IPC) $(PLATFORM))
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $^ -o $@ $(ALL_LDFLAGS) $(SUP_LIBS) $(CMOCKA_LIBS)

$(BUILD)/tests/test_ipc: $(call obj,tests/test_ipc.c $(IPC) $(PLATFORM))
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $^ -o $@ $(ALL_LDFLAGS) $(SUP_LIBS) $(SCAN_LIBS) $(CMOCKA_LIBS)

$(BUILD)/tests/test_sandbox: $(call obj,tests/test_sandbox.c $(IPC) $(PLATFORM) $(PRIV)) $(call obj,tests/fault.c)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $^ -o $@ $(ALL_LDFLAGS) $(SUP_LIBS) $(SCAN_LIBS) $(CMOCKA_LIBS)

db: $(BUILD)/db/avwarden-test.ndb
$(BUILD)/db/avwarden-test.ndb: scripts/gen-db.sh
	sh scripts/gen-db.sh $(BUILD)/db

run: deps
	@$(MAKE) --no-print-directory $(PROGS) db
	@sh scripts/run.sh $(BUILD)

unit: $(TESTS)
	@sh tests/run-unit.sh $(BUILD)

# The suites that drive a real daemon, in order. Each has a hard time limit:
# a hang fails the run instead of stalling CI.
SUITES := integration containment supervision survival torture operations mta postfix client protocol fromclamd evasion metrics shared multinode

integration: all
	@for s in $(SUITES) install; do timeout 600 sh tests/$$s.sh $(BUILD) || exit 1; done

check: deps
	@$(MAKE) --no-print-directory all
	@timeout 300 sh tests/run-unit.sh $(BUILD)
	@$(MAKE) --no-print-directory integration
	@$(MAKE) --no-print-directory asan
	@$(MAKE) --no-print-directory valgrind
	@$(MAKE) --no-print-directory fuzz-short

# Sanitizer build: a separate tree, same tests. No quarantine: the soak test
# checks the supervisor's RSS, which ASan's quarantine would inflate.
ASAN_ENV := ASAN_OPTIONS=detect_leaks=1:quarantine_size_mb=0 UBSAN_OPTIONS=print_stacktrace=1
asan:
	@sh scripts/deps.sh --with-sanitizers
	@$(MAKE) --no-print-directory all BUILD=build-asan CC=clang \
		CFLAGS="-O1 -g -fno-omit-frame-pointer" \
		SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -DAVW_SANITIZER_BUILD" HARDEN=
	@$(ASAN_ENV) timeout 600 sh tests/run-unit.sh build-asan
	@for s in $(SUITES); do $(ASAN_ENV) timeout 900 sh tests/$$s.sh build-asan || exit 1; done

# ---- fuzzing (libFuzzer) -------------------------------------------------
# Harnesses built with clang into their own tree, never part of `all`:
# the clamd protocol's pure functions (clamd_parse, instream, unstuff), and
# session: whole client sessions against the real session code on a real
# libuv loop with a fake pool (tests/fuzz_session.c). Seeds and
# dictionaries are in tests/fuzz/ and only read: new corpus entries go to
# $(FUZZ_BUILD)/corpus/TARGET/, crash inputs to $(FUZZ_BUILD)/artifacts/.
# `make fuzz-short` (in `make check`) fails on any crash, failed check or leak.
FUZZ_BUILD      ?= build-fuzz
FUZZ_CC         ?= clang
FUZZ_TARGETS    := clamd_parse instream unstuff session contcheck
FUZZ_TIME       ?= 300
FUZZ_SHORT_TIME ?= 15
FUZZ_CFLAGS     := -std=gnu11 $(WARN) -O1 -g -fno-omit-frame-pointer \
	-fsanitize=address,undefined -fno-sanitize-recover=all $(shell pkg-config --cflags libuv 2>/dev/null) \
	-DPATHSCAN_MAX_FILES=64
FUZZ_BINS       := $(patsubst %,$(FUZZ_BUILD)/fuzz_%,$(FUZZ_TARGETS))
# What each harness links besides itself. Code under test is instrumented
# for coverage (fuzzer-no-link); support code only sanitized.
FUZZ_PURE       := supervisor/clamd.c
FUZZ_SESSION    := supervisor/session.c supervisor/conn.c supervisor/commands.c supervisor/pathscan.c \
	supervisor/peerfs.c supervisor/reply.c supervisor/clamd.c
FUZZ_SUPPORT    := ipc/text.c ipc/codes.c ipc/gather.c platform/plat.c supervisor/stats.c tests/fake_pool.c
fuzzobj = $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(1))
fuzzsup = $(patsubst %.c,$(FUZZ_BUILD)/sup/%.o,$(1))

.PHONY: fuzz fuzz-short fuzz-build fuzz-clean
fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	@sh scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_TIME) $(FUZZ_TARGETS)
	@$(MAKE) --no-print-directory valgrind

# The supervisor under valgrind's memcheck through the torture suite: any
# invalid access, or a definite leak at exit, fails it (exit status 99).
VALGRIND := valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
.PHONY: valgrind
valgrind: all
	@AVW_WRAP="$(VALGRIND)" TORTURE_SECONDS=15 timeout 600 sh tests/torture.sh $(BUILD)

fuzz-short:
	@sh scripts/deps.sh --with-sanitizers
	@$(MAKE) --no-print-directory fuzz-build
	@timeout $$(( $(words $(FUZZ_TARGETS)) * ($(FUZZ_SHORT_TIME) + 30) )) \
		sh scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SHORT_TIME) $(FUZZ_TARGETS)

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $< (fuzz)")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/sup/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $< (fuzz support)")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/fuzz_session: tests/fuzz_session.c $(call fuzzobj,$(FUZZ_SESSION)) $(call fuzzsup,$(FUZZ_SUPPORT))
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $^ -o $@ $(shell pkg-config --libs libuv 2>/dev/null)

$(FUZZ_BUILD)/fuzz_contcheck: tests/fuzz_contcheck.c $(call fuzzobj,scanner/zipcheck.c scanner/contcheck.c)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $^ -o $@ $(shell pkg-config --libs zlib liblzma 2>/dev/null) -lbz2

$(FUZZ_BUILD)/fuzz_%: tests/fuzz_%.c $(call fuzzobj,$(FUZZ_PURE)) $(call fuzzsup,ipc/text.c)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $^ -o $@

-include $(shell find $(FUZZ_BUILD) -name '*.d' 2>/dev/null)

clean: fuzz-clean
fuzz-clean:
	rm -rf $(FUZZ_BUILD)
# ---- end of fuzzing --------------------------------------------------------

# ---- libavwarden: client library and avwarden-scan (client/) -------------
# libavwarden.a and libavwarden.so.$(AVWLIB_VERSION) (soname $(AVWLIB_SONAME),
# exporting only the avw_* API: -fvisibility=hidden, the API marked in
# client/avwarden.c), avwarden.h, avwarden.pc for the install prefix, and
# avwarden-scan linked against the static library. Built by `all`; `make
# client` builds only these. Tests: tests/client.sh (with tests/test_client
# and tests/client-demo, which links the shared library).
LIBDIR         ?= $(PREFIX)/lib
INCLUDEDIR     ?= $(PREFIX)/include
PKGCONFIGDIR   ?= $(LIBDIR)/pkgconfig
AR             ?= ar
AVWLIB_VERSION := 0.1.0
AVWLIB_SONAME  := libavwarden.so.0
AVWLIB_SRC     := client/avwarden.c client/proto.c ipc/codes.c
AVWLIB_CFLAGS   = -std=gnu11 $(WARN) $(HARDEN) $(CFLAGS) $(SAN) -fPIC -fvisibility=hidden
pobj = $(patsubst %.c,$(BUILD)/objpic/%.o,$(1))
AVWLIB := $(BUILD)/libavwarden.a $(BUILD)/libavwarden.so.$(AVWLIB_VERSION) $(BUILD)/libavwarden.so.0 \
	$(BUILD)/libavwarden.so $(BUILD)/avwarden.pc
CLIENT_ALL := $(AVWLIB) $(BUILD)/avwarden-scan $(BUILD)/tests/test_client $(BUILD)/tests/client-demo

.PHONY: client
all: $(CLIENT_ALL)
client: $(CLIENT_ALL)
install: $(AVWLIB) $(BUILD)/avwarden-scan

$(BUILD)/objpic/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $< (PIC)")
	$(Q)$(CC) $(AVWLIB_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libavwarden.a: $(call pobj,$(AVWLIB_SRC))
	@$(if $(V),,echo "  AR      $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^

# -z defs: the library needs nothing but libc (not checkable with ASan,
# whose runtime the executable brings).
$(BUILD)/libavwarden.so.$(AVWLIB_VERSION): $(call pobj,$(AVWLIB_SRC))
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) -shared -Wl,-soname,$(AVWLIB_SONAME) -Wl,-z,relro,-z,now $(if $(SAN),,-Wl,-z,defs) \
		$(LDFLAGS) $(SAN) $^ -o $@

$(BUILD)/libavwarden.so.0: $(BUILD)/libavwarden.so.$(AVWLIB_VERSION)
	$(Q)ln -sf libavwarden.so.$(AVWLIB_VERSION) $@

$(BUILD)/libavwarden.so: $(BUILD)/libavwarden.so.0
	$(Q)ln -sf $(AVWLIB_SONAME) $@

# Rewritten only when its content changes (PREFIX, LIBDIR, INCLUDEDIR).
$(BUILD)/avwarden.pc: client/avwarden.pc.in FORCE
	@mkdir -p $(BUILD)
	@sed -e 's|@PREFIX@|$(PREFIX)|' \
		-e 's|@LIBDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))|' \
		-e 's|@INCLUDEDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))|' \
		-e 's|@VERSION@|$(AVWLIB_VERSION)|' $< > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

$(BUILD)/avwarden-scan: $(call obj,client/avwarden_scan.c) $(BUILD)/libavwarden.a
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $^ -o $@ $(ALL_LDFLAGS)

$(BUILD)/tests/test_client: $(call obj,tests/test_client.c client/proto.c supervisor/clamd.c $(IPC))
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $^ -o $@ $(ALL_LDFLAGS) $(CMOCKA_LIBS)

# Built as an MTA would build it: the installed header's name, -lavwarden.
$(BUILD)/obj/tests/client_demo.o: ALL_CFLAGS += -Iclient
$(BUILD)/tests/client-demo: $(call obj,tests/client_demo.c) $(BUILD)/libavwarden.so
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $< -o $@ $(ALL_LDFLAGS) -L$(BUILD) -lavwarden -lpthread

-include $(shell find $(BUILD)/objpic -name '*.d' 2>/dev/null)
# ---- end of libavwarden -----------------------------------------------------

bench: deps
	@sh scripts/deps.sh --with-bench
	@$(MAKE) --no-print-directory all
	@$(CC) -O2 $(WARN) -o $(BUILD)/vm-costs scripts/vm-costs.c && $(BUILD)/vm-costs
	@echo "== database shaped like the official one (2M hashes, 50k body signatures)"
	@sh scripts/bench.sh $(BUILD) 5
	@echo; echo "== the tests' small database"
	@sh scripts/bench.sh $(BUILD) 5 0

# The default scanner_path is compiled into config.c's object: rebuild it
# when LIBEXECDIR changes (`make install PREFIX=/usr` after a plain `make`).
# The stamp is rewritten only when its content changes.
$(BUILD)/libexecdir.stamp: FORCE
	@mkdir -p $(BUILD)
	@echo '$(LIBEXECDIR)' | cmp -s - $@ || echo '$(LIBEXECDIR)' > $@
$(call obj,supervisor/config.c supervisor/fromclamdmap.c): $(BUILD)/libexecdir.stamp
FORCE:

# install: generated files (config with scanner_path pointing at the
# installed scanner, systemd unit, logrotate file) are written to
# $(BUILD)/install/ on every run, so they always match the current
# variables. An existing config is never overwritten.
INSTGEN := $(BUILD)/install
install: $(PROGS)
	@mkdir -p $(INSTGEN)
	@if grep -q '^scanner_path[[:space:]]*=' etc/avwarden.conf.example; then \
		sed 's|^scanner_path[[:space:]]*=.*|scanner_path = "$(LIBEXECDIR)/avwarden-scanner"|' \
			etc/avwarden.conf.example; \
	else \
		cat etc/avwarden.conf.example; \
		printf '\nscanner_path = "%s"\n' '$(LIBEXECDIR)/avwarden-scanner'; \
	fi > $(INSTGEN)/avwarden.conf
	@sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
		etc/avwarden.service.in > $(INSTGEN)/avwarden.service
	@sed -e 's|@BINDIR@|$(BINDIR)|g' etc/avwarden.logrotate.in > $(INSTGEN)/avwarden.logrotate
	install -D -m 0755 $(BUILD)/avwarden $(DESTDIR)$(SBINDIR)/avwarden
	install -D -m 0755 $(BUILD)/avwardenctl $(DESTDIR)$(BINDIR)/avwardenctl
	install -D -m 0755 $(BUILD)/avwarden-scanner $(DESTDIR)$(LIBEXECDIR)/avwarden-scanner
	install -D -m 0644 $(INSTGEN)/avwarden.service $(DESTDIR)$(SYSTEMDUNITDIR)/avwarden.service
	install -D -m 0644 $(INSTGEN)/avwarden.logrotate $(DESTDIR)$(LOGROTATEDIR)/avwarden
	install -D -m 0644 man/avwarden.8 $(DESTDIR)$(MANDIR)/man8/avwarden.8
	install -D -m 0644 man/avwardenctl.8 $(DESTDIR)$(MANDIR)/man8/avwardenctl.8
	install -D -m 0644 man/avwarden-scanner.8 $(DESTDIR)$(MANDIR)/man8/avwarden-scanner.8
	install -D -m 0644 man/avwarden.conf.5 $(DESTDIR)$(MANDIR)/man5/avwarden.conf.5
	install -D -m 0644 man/avwarden-scan.1 $(DESTDIR)$(MANDIR)/man1/avwarden-scan.1
	install -D -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	install -D -m 0644 etc/avwarden-scanner-wrapper.sh $(DESTDIR)$(DOCDIR)/examples/avwarden-scanner-wrapper.sh
	install -D -m 0755 $(BUILD)/avwarden-scan $(DESTDIR)$(BINDIR)/avwarden-scan
	install -D -m 0644 $(BUILD)/libavwarden.a $(DESTDIR)$(LIBDIR)/libavwarden.a
	install -D -m 0644 $(BUILD)/libavwarden.so.$(AVWLIB_VERSION) $(DESTDIR)$(LIBDIR)/libavwarden.so.$(AVWLIB_VERSION)
	ln -sf libavwarden.so.$(AVWLIB_VERSION) $(DESTDIR)$(LIBDIR)/$(AVWLIB_SONAME)
	ln -sf $(AVWLIB_SONAME) $(DESTDIR)$(LIBDIR)/libavwarden.so
	install -D -m 0644 client/avwarden.h $(DESTDIR)$(INCLUDEDIR)/avwarden.h
	install -D -m 0644 $(BUILD)/avwarden.pc $(DESTDIR)$(PKGCONFIGDIR)/avwarden.pc
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" -eq 0 ]; then ldconfig || true; fi
	@conf=$(DESTDIR)$(SYSCONFDIR)/avwarden/avwarden.conf; \
	if [ ! -e "$$conf" ]; then \
		echo "install -D -m 0640 $(INSTGEN)/avwarden.conf $$conf"; \
		install -D -m 0640 $(INSTGEN)/avwarden.conf "$$conf"; \
	elif cmp -s $(INSTGEN)/avwarden.conf "$$conf"; then \
		echo "install: $$conf is already up to date"; \
	else \
		install -m 0640 $(INSTGEN)/avwarden.conf "$$conf.new"; \
		echo "install: kept your $$conf; the new default is in $$conf.new"; \
	fi
	install -D -m 0644 etc/avwarden.sysusers $(DESTDIR)$(SYSUSERSDIR)/avwarden.conf
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" -eq 0 ]; then sh scripts/add-user.sh avwarden; fi
	@if [ -z "$(DESTDIR)" ]; then \
		echo "Next: edit $(SYSCONFDIR)/avwarden/avwarden.conf, then"; \
		echo "      systemctl daemon-reload && systemctl enable --now avwarden"; \
	fi

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/avwarden $(DESTDIR)$(BINDIR)/avwardenctl \
		$(DESTDIR)$(LIBEXECDIR)/avwarden-scanner \
		$(DESTDIR)$(SYSTEMDUNITDIR)/avwarden.service $(DESTDIR)$(LOGROTATEDIR)/avwarden \
		$(DESTDIR)$(MANDIR)/man8/avwarden.8 $(DESTDIR)$(MANDIR)/man8/avwardenctl.8 \
		$(DESTDIR)$(MANDIR)/man8/avwarden-scanner.8 $(DESTDIR)$(MANDIR)/man5/avwarden.conf.5 \
		$(DESTDIR)$(MANDIR)/man1/avwarden-scan.1 \
		$(DESTDIR)$(DOCDIR)/README.md $(DESTDIR)$(DOCDIR)/examples/avwarden-scanner-wrapper.sh \
		$(DESTDIR)$(SYSUSERSDIR)/avwarden.conf
	rm -f $(DESTDIR)$(BINDIR)/avwarden-scan $(DESTDIR)$(LIBDIR)/libavwarden.a \
		$(DESTDIR)$(LIBDIR)/libavwarden.so.$(AVWLIB_VERSION) $(DESTDIR)$(LIBDIR)/$(AVWLIB_SONAME) \
		$(DESTDIR)$(LIBDIR)/libavwarden.so $(DESTDIR)$(INCLUDEDIR)/avwarden.h \
		$(DESTDIR)$(PKGCONFIGDIR)/avwarden.pc
	@rmdir $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR) 2>/dev/null || true
	@echo "uninstall: left $(DESTDIR)$(SYSCONFDIR)/avwarden/ (your configuration) and the avwarden account in place"

clean:
	rm -rf $(BUILD) build-asan

-include $(shell find $(BUILD)/obj $(BUILD)/objf -name '*.d' 2>/dev/null)
