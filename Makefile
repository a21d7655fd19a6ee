# agg - build, test, bench, install.
#
#   make              build bin/aggd bin/aggpub bin/aggstat bin/aggevents
#   make run          install missing packages, build, start aggd on data/
#   make test         install missing packages, run every test (unit + bats,
#                     plain build, then ASan+UBSan build; then libFuzzer
#                     and the containers, once)
#   make bench        the performance benchmark (bench/run; README has results)
#   make soak         10 minutes at 80% of the measured maximum (bench/soak)
#   make soak-retention  the soak without and with --retain 2m (bench/retention)
#   make install      PREFIX=/usr/local DESTDIR=
#   make uninstall    the same PREFIX and DESTDIR

PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
SBINDIR	?= $(PREFIX)/bin
MANDIR	?= $(PREFIX)/share/man
VERSION	 = 1.2.0

CC	?= cc
CFLAGS	?= -O2 -g
O	?= build
BIN	?= bin
WARN	 = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
AGG_CFLAGS = -std=c11 -D_GNU_SOURCE -DAGG_VERSION='"$(VERSION)"' $(WARN) -Ilib \
	$(shell pkg-config --cflags json-c libcurl sqlite3 libpq 2>/dev/null) $(CFLAGS)
LDLIBS	 = -Wl,--as-needed $(shell pkg-config --libs sqlite3 json-c libcurl libpq 2>/dev/null || \
	   echo -lsqlite3 -ljson-c -lcurl -lpq) -lpthread -lm

LIB_SRC	 = $(sort $(wildcard lib/*.c))
LIB_OBJ	 = $(LIB_SRC:%.c=$(O)/%.o)
# A tool is cmd/NAME.c, or a folder cmd/NAME/ of files with one job each.
FILE_TOOLS = $(patsubst cmd/%.c,%,$(wildcard cmd/*.c))
DIR_TOOLS  = $(patsubst cmd/%/,%,$(sort $(dir $(wildcard cmd/*/*.c))))
TOOLS	 = $(filter-out aggd,$(FILE_TOOLS) $(DIR_TOOLS))
PROGS	 = $(BIN)/aggd $(TOOLS:%=$(BIN)/%)
UNIT_SRC = $(sort $(wildcard tests/unit/test_*.c))
UNITS	 = $(UNIT_SRC:tests/unit/%.c=$(O)/tests/%)
BENCH_SRC = $(sort $(wildcard bench/*.c))
BENCHES	 = $(BENCH_SRC:bench/%.c=$(O)/bench/%)
MANS	 = $(sort $(wildcard man/*.[1-8]))

all: $(PROGS)

$(O)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(AGG_CFLAGS) -MMD -MP -c -o $@ $<

# What prints VERSION is rebuilt when this file changes.
$(patsubst %.c,$(O)/%.o,$(wildcard cmd/*.c cmd/*/*.c)): Makefile

$(O)/libagg.a: $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $(LIB_OBJ)

define dir_tool
$$(BIN)/$(1): $$(patsubst %.c,$$(O)/%.o,$$(wildcard cmd/$(1)/*.c)) $$(O)/libagg.a
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $$(LDFLAGS) -o $$@ $$(filter %.o,$$^) $$(O)/libagg.a $$(LDLIBS)
endef
$(foreach t,$(DIR_TOOLS),$(eval $(call dir_tool,$(t))))

$(BIN)/%: $(O)/cmd/%.o $(O)/libagg.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(O)/libagg.a $(LDLIBS)

$(O)/tests/%: $(O)/tests/unit/%.o $(O)/libagg.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(O)/libagg.a $(LDLIBS)

$(O)/bench/%: $(O)/bench/%.o $(O)/libagg.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(O)/libagg.a $(LDLIBS)

units: $(UNITS)
benches: $(BENCHES)

deps:
	@.ci/deps build

test-deps:
	@.ci/deps test

# The README's first command.
run: deps
	@$(MAKE) --no-print-directory all
	./$(BIN)/aggd

# The README's second command: every test, plain (gcc) and under
# ASan+UBSan (clang, so both compilers' -Werror hold), then fuzzing and
# the containers (tests/run).
test: test-deps
	@$(MAKE) --no-print-directory all units
	@$(MAKE) --no-print-directory O=build/asan BIN=build/asan/bin CC=clang \
	    CFLAGS='-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all' \
	    all units
	tests/run $(BIN) $(O)/tests build/asan/bin build/asan/tests

test-plain: all units
	AGG_QUICK=1 tests/run $(BIN) $(O)/tests

test-valgrind: all units
	AGG_QUICK=1 AGG_VALGRIND=1 tests/run $(BIN) $(O)/tests

bench: deps all benches
	bench/run $(BIN) $(O)/bench

# libFuzzer + ASan/UBSan, FUZZ_SECONDS per target; crashes go to
# tests/fuzz/regress/ and are replayed by every `make test`.
FUZZ_SECONDS ?= 60
fuzz: test-deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run

# Soak run, not in CI: SOAK_SECONDS (600) at 80% of loadgen's maximum.
SOAK_SECONDS ?= 600
soak: deps all benches
	SOAK_SECONDS=$(SOAK_SECONDS) bench/soak $(BIN) $(O)/bench

soak-retention: deps all benches
	SOAK_SECONDS=$(SOAK_SECONDS) bench/retention $(BIN) $(O)/bench

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR)
	install -m 755 $(BIN)/aggd $(DESTDIR)$(SBINDIR)/aggd
	install -m 755 $(TOOLS:%=$(BIN)/%) $(DESTDIR)$(BINDIR)/
	for m in $(MANS); do s=$${m##*.}; \
	    install -d $(DESTDIR)$(MANDIR)/man$$s && \
	    install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s/ || exit 1; done

# What install and install-contrib put in place, and nothing else.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/aggd $(TOOLS:%=$(DESTDIR)$(BINDIR)/%)
	for m in $(MANS); do s=$${m##*.}; \
	    rm -f $(DESTDIR)$(MANDIR)/man$$s/$${m##*/}; done
	rm -f $(DESTDIR)$(UNITDIR)/aggd.service $(DESTDIR)$(DOCDIR)/crontab.example
	-rmdir $(DESTDIR)$(DOCDIR) 2>/dev/null

clean:
	rm -rf build bin

.PHONY: all units benches deps test-deps run test test-plain test-valgrind bench fuzz soak soak-retention install uninstall clean
.SECONDARY:

-include $(shell find $(O) -name '*.d' 2>/dev/null)

# Containers: the contract's compose commands against a real Docker engine
# (installs docker.io, docker-compose and debootstrap and starts dockerd
# when needed; exit 77 when no engine can be started here).
test-docker:
	bash tests/docker.sh

# The systemd unit and the crontab example (contrib/), with the unit's
# ExecStart pointing at the installed aggd.
UNITDIR	?= $(PREFIX)/lib/systemd/system
DOCDIR	?= $(PREFIX)/share/doc/agg
install-contrib:
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)
	sed 's,/usr/local/bin/aggd,$(SBINDIR)/aggd,' contrib/aggd.service \
	    >$(DESTDIR)$(UNITDIR)/aggd.service
	chmod 644 $(DESTDIR)$(UNITDIR)/aggd.service
	sed 's,/usr/local/bin,$(BINDIR),' contrib/crontab.example \
	    >$(DESTDIR)$(DOCDIR)/crontab.example
	chmod 644 $(DESTDIR)$(DOCDIR)/crontab.example

.PHONY: test-docker install-contrib
