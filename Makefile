# avwarden: sandboxed antivirus scanning for mail servers.
# `make help` lists the targets.

BUILD     ?= build
CC        ?= cc
PKGS      := libuv libclamav libseccomp libconfuse libcrypto
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# The supervisor never links libclamav: it does not parse message content.
SUP_LIBS   = $(shell pkg-config --libs libuv libseccomp libconfuse libcrypto 2>/dev/null)
SCAN_LIBS  = $(shell pkg-config --libs libclamav libseccomp 2>/dev/null)
CMOCKA_LIBS = $(shell pkg-config --libs cmocka 2>/dev/null)

PREFIX     ?= /usr/local
LIBEXECDIR ?= $(PREFIX)/libexec/avwarden

WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes
HARDEN  := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
CFLAGS  ?= -O2 -g
ALL_CFLAGS = -std=gnu11 $(WARN) $(HARDEN) $(CFLAGS) $(SAN) $(PKG_CFLAGS) \
	-DAVW_SCANNER_DEFAULT='"$(LIBEXECDIR)/avwarden-scanner"'
ALL_LDFLAGS = -pie -Wl,-z,relro,-z,now $(LDFLAGS) $(SAN)

PLATFORM  := platform/plat.c
IPC       := ipc/ipc.c
PRIV      := privileges/spawn.c privileges/host.c privileges/landlock.c privileges/seccomp.c
SUP_SRC   := supervisor/main.c supervisor/config.c supervisor/clamd.c supervisor/listen.c \
	supervisor/pool.c supervisor/lifecycle.c supervisor/poison.c supervisor/control.c
SCAN_SRC  := scanner/host.c scanner/worker.c scanner/engine.c

# `make V=1` shows the compiler command lines.
Q := $(if $(V),,@)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
fobj = $(patsubst %.c,$(BUILD)/objf/%.o,$(1))

PROGS := $(BUILD)/avwarden $(BUILD)/avwarden-scanner $(BUILD)/avwardenctl
TESTS := $(BUILD)/tests/test_config $(BUILD)/tests/test_clamd $(BUILD)/tests/test_ipc \
	$(BUILD)/tests/test_sandbox $(BUILD)/tests/test_lifecycle
TOOLS := $(BUILD)/tests/avwarden-scanner-faulty $(BUILD)/tests/inproc-scan $(BUILD)/tests/clamd-client \
	$(BUILD)/tests/bench-inproc

.PHONY: all deps db run check unit integration asan bench clean help
all: $(PROGS) $(TESTS) $(TOOLS) db

help:
	@echo "make            build avwarden, avwarden-scanner, avwardenctl and the tests into $(BUILD)/"
	@echo "make deps       install missing Debian packages (apt-get; needs root)"
	@echo "make run        deps + build + start avwarden in the foreground on the bundled database"
	@echo "make check      deps + build + every test (unit, sandbox, integration, supervision),"
	@echo "                then the same tests again under ASan/UBSan"
	@echo "make unit       cmocka unit and sandbox tests only"
	@echo "make integration  end-to-end and supervision tests against a real daemon"
	@echo "make asan       the whole test suite built with ASan and UBSan (clang)"
	@echo "make bench      avwarden vs clamd vs in-process libclamav: req/s, latency, memory"
	@echo "make db         generate the test/default signature database in $(BUILD)/db"
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

$(BUILD)/tests/avwarden-scanner-faulty: $(call fobj,$(SCAN_SRC) $(IPC) $(PLATFORM) $(PRIV) tests/fault.c)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $^ -o $@ $(ALL_LDFLAGS) $(SCAN_LIBS)

$(BUILD)/tests/inproc-scan: $(call obj,tests/inproc_scan.c scanner/engine.c $(IPC))
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $^ -o $@ $(ALL_LDFLAGS) $(SCAN_LIBS)

$(BUILD)/tests/bench-inproc: $(call obj,tests/bench_inproc.c scanner/engine.c $(IPC) $(PLATFORM))
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $^ -o $@ $(ALL_LDFLAGS) $(SCAN_LIBS) -lpthread

$(BUILD)/tests/clamd-client: $(call obj,tests/clamd_client.c $(PLATFORM))
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $^ -o $@ $(ALL_LDFLAGS)

$(BUILD)/tests/test_config: $(call obj,tests/test_config.c supervisor/config.c $(PLATFORM))
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

# Each suite has a hard time limit: a hang fails the run instead of stalling CI.
integration: all
	@timeout 600 sh tests/integration.sh $(BUILD)
	@timeout 600 sh tests/supervision.sh $(BUILD)

check: deps
	@$(MAKE) --no-print-directory all
	@timeout 300 sh tests/run-unit.sh $(BUILD)
	@timeout 600 sh tests/integration.sh $(BUILD)
	@timeout 600 sh tests/supervision.sh $(BUILD)
	@$(MAKE) --no-print-directory asan

# Sanitizer build: a separate tree, same tests. No quarantine: the soak test
# checks the supervisor's RSS, which ASan's quarantine would inflate.
ASAN_ENV := ASAN_OPTIONS=detect_leaks=1:quarantine_size_mb=0 UBSAN_OPTIONS=print_stacktrace=1
asan:
	@sh scripts/deps.sh --with-sanitizers
	@$(MAKE) --no-print-directory all BUILD=build-asan CC=clang \
		CFLAGS="-O1 -g -fno-omit-frame-pointer" \
		SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -DAVW_SANITIZER_BUILD" HARDEN=
	@$(ASAN_ENV) timeout 600 sh tests/run-unit.sh build-asan
	@$(ASAN_ENV) timeout 900 sh tests/integration.sh build-asan
	@$(ASAN_ENV) timeout 900 sh tests/supervision.sh build-asan

bench: deps
	@$(MAKE) --no-print-directory all
	@sh scripts/bench.sh $(BUILD)

clean:
	rm -rf $(BUILD) build-asan

-include $(shell find $(BUILD)/obj $(BUILD)/objf -name '*.d' 2>/dev/null)
