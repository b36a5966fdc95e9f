# sockgate — transparent proxy appliance for Linux routers.
#   make            build sockgated and sockgate
#   make check      install missing Debian packages, run unit + integration tests
#   make demo       install missing Debian packages, run the namespace demo
#   make bench      benchmark against redsocks (root, network namespaces)
#   make fuzz       build and run the libFuzzer harnesses (clang)
#   make install    PREFIX, DESTDIR, SBINDIR, SYSCONFDIR, UNITDIR... honoured
#   make deb, rpm   binary packages into build/packages (packaging/)
#   make package-test  build both, check and install the .deb, purge it

VERSION := $(shell cat VERSION)
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
SYSCONFDIR ?= /etc
DOCDIR ?= $(PREFIX)/share/doc/sockgate
MANDIR ?= $(PREFIX)/share/man
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions

CC ?= cc
PKG_CONFIG ?= pkg-config
CFLAGS ?= -O2 -g
WERROR ?= 1
# override: required even when CFLAGS/CPPFLAGS come from the command line
override CFLAGS += -std=gnu11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
override CFLAGS += -MMD -MP
ifeq ($(WERROR),1)
override CFLAGS += -Werror
endif
override CPPFLAGS += -Iinclude -D_GNU_SOURCE -DSOCKGATE_VERSION='"$(VERSION)"'
INIH_LIBS := $(shell $(PKG_CONFIG) --libs inih 2>/dev/null || echo -linih)
CMOCKA_LIBS := $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null || echo -lcmocka)
CARES_LIBS := $(shell $(PKG_CONFIG) --libs libcares 2>/dev/null || echo -lcares)
JSON_LIBS := $(shell $(PKG_CONFIG) --libs jansson 2>/dev/null || echo -ljansson)
LDNS_LIBS := $(shell $(PKG_CONFIG) --libs ldns 2>/dev/null || echo -lldns)

ifeq ($(V),1)
Q :=
else
Q := @
endif

B := build
LIB_SRCS := $(wildcard daemon/common/*.c)
LIB_OBJS := $(LIB_SRCS:%.c=$(B)/%.o)
DAEMON_SRCS := $(wildcard daemon/*.c)
DAEMON_OBJS := $(DAEMON_SRCS:%.c=$(B)/%.o)
CLI_SRCS := $(wildcard tools/*.c)
CLI_OBJS := $(CLI_SRCS:%.c=$(B)/%.o)
MNL_LIBS := $(shell $(PKG_CONFIG) --libs libmnl 2>/dev/null || echo -lmnl)
NFT_LIBS := $(shell $(PKG_CONFIG) --libs libnftnl libmnl 2>/dev/null || echo -lnftnl -lmnl)
BPF_LIBS := $(shell $(PKG_CONFIG) --libs libbpf 2>/dev/null || echo -lbpf -lelf -lz)
CLI_LIBS := $(NFT_LIBS) $(BPF_LIBS)

# eBPF programs: clang for the bpf target, UAPI headers only (no BTF needed
# at run time), then a libbpf skeleton from bpftool for the CLI.
CLANG ?= clang
BPFTOOL ?= bpftool
BPF_ARCH_INCLUDE := /usr/include/$(shell $(CC) -dumpmachine)
BPF_CFLAGS := -O2 -g -Wall -Werror -target bpf -I$(BPF_ARCH_INCLUDE) -Ibpf
BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_SKELS := $(BPF_SRCS:bpf/%.bpf.c=$(B)/bpf/%.skel.h)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)

.DELETE_ON_ERROR:
.PHONY: all deps check check-sanitizers unit integration demo bench fuzz fuzz-long soak install uninstall deb rpm package-test clean format format-check

all: $(B)/sockgated $(B)/sockgate

$(B)/bpf/%.bpf.o: bpf/%.bpf.c bpf/intake.h bpf/maps.bpf.h
	@mkdir -p $(@D)
	@$(if $(Q),echo "  BPF     $<")
	$(Q)$(CLANG) $(BPF_CFLAGS) -c -o $@ $<

$(B)/bpf/%.skel.h: $(B)/bpf/%.bpf.o
	@$(if $(Q),echo "  SKEL    $@")
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@

# the CLI's loader includes the skeleton
$(B)/tools/tc_intake.o $(B)/tools/cgroup_intake.o: $(BPF_SKELS)
$(B)/tools/%.o: CPPFLAGS += -I$(B)/bpf -Ibpf

$(B)/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/libsockgate.a: $(LIB_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)$(AR) rcs $@ $^

$(B)/sockgated: $(DAEMON_OBJS) $(B)/libsockgate.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(INIH_LIBS) $(CARES_LIBS) $(MNL_LIBS) $(JSON_LIBS) $(LDNS_LIBS) -lcrypt -lpthread

$(B)/sockgate: $(CLI_OBJS) $(B)/libsockgate.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(INIH_LIBS) $(CLI_LIBS) $(JSON_LIBS)

# Each unit test links libsockgate.a plus only the daemon modules it tests.
CODEC_OBJS := $(addprefix $(B)/daemon/,upstream.o upstream_socks5.o upstream_socks4.o upstream_http.o)
$(B)/tests/test_upstream_socks5 $(B)/tests/test_upstream_socks4 $(B)/tests/test_upstream_http: \
	UNIT_OBJS = $(CODEC_OBJS)
$(B)/tests/test_socks_handshake: UNIT_OBJS = $(B)/daemon/socks_handshake.o
$(B)/tests/test_siphash: UNIT_OBJS = $(B)/daemon/siphash.o
$(B)/tests/test_sniff: UNIT_OBJS = $(B)/daemon/sniff.o
$(B)/tests/test_dns_frame: UNIT_OBJS = $(B)/daemon/dns_frame.o
$(B)/tests/test_fakeip: UNIT_OBJS = $(B)/daemon/fakeip.o
$(B)/tests/test_http_get: UNIT_OBJS = $(B)/daemon/http_get.o
$(B)/tests/test_http_msg: UNIT_OBJS = $(B)/daemon/http_msg.o
$(B)/tests/test_control_request: UNIT_OBJS = $(B)/daemon/control_request.o
$(B)/tests/test_pac_script: UNIT_OBJS = $(B)/daemon/pac_script.o
$(B)/tests/test_users: UNIT_OBJS = $(B)/daemon/users.o
$(B)/tests/test_client_limit: UNIT_OBJS = $(B)/daemon/client_limit.o
$(B)/tests/test_backlog: UNIT_OBJS = $(B)/daemon/backlog.o $(B)/daemon/tcp_receive.o
$(B)/tests/test_dst_guard: UNIT_OBJS = $(B)/daemon/dst_guard.o
$(B)/tests/test_served: UNIT_OBJS = $(B)/daemon/served.o
$(B)/tests/test_loop: UNIT_OBJS = $(B)/daemon/loop.o
$(B)/tests/test_upstream_live: UNIT_OBJS = $(B)/daemon/upstream_live.o $(B)/daemon/generation.o \
	$(B)/daemon/users.o
$(B)/tests/test_dns_msg: UNIT_OBJS = $(B)/daemon/dns_msg.o $(B)/daemon/dns_cache.o $(B)/daemon/siphash.o
$(B)/tests/test_dns_msg: UNIT_LIBS = $(LDNS_LIBS)
$(B)/tests/test_ruleset: UNIT_OBJS = $(B)/tools/ruleset.o $(B)/tools/nft.o
$(B)/tests/test_ruleset: UNIT_LIBS = $(CLI_LIBS)
$(B)/tests/test_ruleset: $(CLI_OBJS)
# the tc intake program run by the kernel on crafted frames
$(B)/tests/test_bpf_intake: UNIT_LIBS = $(BPF_LIBS)
$(B)/tests/test_bpf_intake: CPPFLAGS += -I$(B)/bpf -Ibpf -Itests/bpf
$(B)/tests/test_bpf_intake: $(B)/bpf/tc_intake.skel.h
$(B)/tests/test_cli: UNIT_OBJS = $(filter-out $(B)/tools/main.o,$(CLI_OBJS))
$(B)/tests/test_cli: UNIT_LIBS = $(CLI_LIBS)
$(B)/tests/test_cli: $(CLI_OBJS)

$(B)/tests/%: tests/unit/%.c $(B)/libsockgate.a $(DAEMON_OBJS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  TEST    $@")
	$(Q)$(CC) $(CPPFLAGS) -Idaemon -Itools $(CFLAGS) -o $@ $< $(UNIT_OBJS) \
		$(B)/libsockgate.a $(UNIT_LIBS) $(CMOCKA_LIBS) $(INIH_LIBS) $(CARES_LIBS) $(MNL_LIBS) $(JSON_LIBS) \
		-lcrypt -lpthread

deps:
	$(Q)tools/install-deps.sh

unit: $(UNIT_BINS)
	$(Q)tests/unit/run.sh $(UNIT_BINS)

integration: $(B)/sockgated $(B)/sockgate
	$(Q)tests/integration/run.sh

check: deps
	$(Q)$(MAKE) --no-print-directory all $(UNIT_BINS)
	$(Q)tests/unit/run.sh $(UNIT_BINS)
	$(Q)$(MAKE) --no-print-directory -C tests/fuzz smoke
	$(Q)tests/integration/run.sh

# The integration suite against an ASan + UBSan build of the daemon; any
# sanitizer report (written to build-san/reports) fails it.
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
check-sanitizers: deps
	$(Q)$(MAKE) --no-print-directory B=build-san CFLAGS="$(SAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" build-san/sockgated build-san/sockgate
	$(Q)$(MAKE) --no-print-directory B=build-san CFLAGS="$(SAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" unit
	$(Q)rm -rf build-san/reports && mkdir -p build-san/reports
	$(Q)ASAN_OPTIONS=log_path=$(CURDIR)/build-san/reports/asan:detect_leaks=1 \
		UBSAN_OPTIONS=log_path=$(CURDIR)/build-san/reports/ubsan:print_stacktrace=1 \
		SOCKGATED=$(CURDIR)/build-san/sockgated SOCKGATE=$(CURDIR)/build-san/sockgate \
		tests/integration/run.sh
	$(Q)if [ -n "$$(ls build-san/reports)" ]; then cat build-san/reports/*; \
		echo "check-sanitizers: sanitizer reports above"; exit 1; fi
	@echo "check-sanitizers: no sanitizer reports"

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/demo.sh

bench:
	$(Q)tools/install-deps.sh bench
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/bench/bench.sh

# a mixed load under a chaos schedule for SOAK_MINUTES (10); SOAK_SANITIZE=1
# runs it against the ASan + UBSan build
soak:
	$(Q)tools/install-deps.sh
ifeq ($(SOAK_SANITIZE),1)
	$(Q)$(MAKE) --no-print-directory B=build-san CFLAGS="$(SAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" build-san/sockgated build-san/sockgate
else
	$(Q)$(MAKE) --no-print-directory all
endif
	$(Q)tests/soak/soak.sh

fuzz:
	$(Q)tools/install-deps.sh
	$(Q)$(MAKE) --no-print-directory -C tests/fuzz run

# every harness 10 minutes or 10 million executions; grows tests/fuzz/corpus
fuzz-long:
	$(Q)tools/install-deps.sh
	$(Q)$(MAKE) --no-print-directory -C tests/fuzz long

MANPAGES := docs/man/sockgated.8 docs/man/sockgate.8 docs/man/sockgate.conf.5
DOCS := README.md docs/architecture.md docs/cli.md docs/config.md docs/control.md docs/metrics.md \
	docs/security.md docs/benchmarks.md docs/sockgate.conf.example

# The unit names the installed paths.
$(B)/sockgated.service: packaging/systemd/sockgated.service
	@mkdir -p $(@D)
	$(Q)sed -e 's|/usr/sbin/|$(SBINDIR)/|g' -e 's|/etc/sockgate/|$(SYSCONFDIR)/sockgate/|g' $< >$@

# The config as shipped intercepts nothing; an existing one is never
# overwritten.
install: $(B)/sockgated $(B)/sockgate $(B)/sockgated.service
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(SYSCONFDIR)/sockgate $(DESTDIR)$(DOCDIR)/examples \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(BASHCOMPDIR)
	install -m 0755 $(B)/sockgated $(DESTDIR)$(SBINDIR)/sockgated
	install -m 0755 $(B)/sockgate $(DESTDIR)$(SBINDIR)/sockgate
	install -m 0644 docs/man/sockgated.8 docs/man/sockgate.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 docs/man/sockgate.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 $(B)/sockgated.service $(DESTDIR)$(UNITDIR)/sockgated.service
	install -m 0644 packaging/sysusers/sockgate.conf $(DESTDIR)$(SYSUSERSDIR)/sockgate.conf
	install -m 0644 packaging/bash-completion/sockgate $(DESTDIR)$(BASHCOMPDIR)/sockgate
	install -m 0644 $(DOCS) $(DESTDIR)$(DOCDIR)/
	install -m 0644 packaging/sysctl/90-sockgate-forwarding.conf $(DESTDIR)$(DOCDIR)/examples/
	test -e $(DESTDIR)$(SYSCONFDIR)/sockgate/sockgate.conf || \
		install -m 0640 packaging/sockgate.conf $(DESTDIR)$(SYSCONFDIR)/sockgate/sockgate.conf

# The config stays: it is the admin's.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/sockgated $(DESTDIR)$(SBINDIR)/sockgate \
		$(DESTDIR)$(MANDIR)/man8/sockgated.8 $(DESTDIR)$(MANDIR)/man8/sockgate.8 \
		$(DESTDIR)$(MANDIR)/man5/sockgate.conf.5 $(DESTDIR)$(UNITDIR)/sockgated.service \
		$(DESTDIR)$(SYSUSERSDIR)/sockgate.conf $(DESTDIR)$(BASHCOMPDIR)/sockgate \
		$(DESTDIR)$(DOCDIR)/examples/90-sockgate-forwarding.conf
	rm -f $(addprefix $(DESTDIR)$(DOCDIR)/,$(notdir $(DOCS)))
	-rmdir $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR)

# Binary packages, built from the tracked files (packaging/build.sh).
deb rpm:
	$(Q)tools/install-deps.sh package
	$(Q)packaging/build.sh $@

package-test:
	$(Q)tools/install-deps.sh package
	$(Q)tests/package/test.sh

FORMAT_FILES = $(wildcard daemon/*.[ch] daemon/common/*.c include/sockgate/*.h tools/*.[ch] bpf/*.[ch] \
	tests/unit/*.[ch] tests/bpf/*.h tests/fuzz/*.c tests/bench/*.c)
format:
	clang-format -i $(FORMAT_FILES)

format-check:
	$(Q)clang-format --dry-run --Werror $(FORMAT_FILES)

clean:
	rm -rf $(B) build-san
	$(MAKE) --no-print-directory -C tests/fuzz clean

-include $(DAEMON_OBJS:.o=.d) $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d)
