# kvfs - a Deno KV database mounted as a directory.
#
#   make            build ./kvfs, libkv.a, bench/kvbench and the unit tests
#   make run        install what is missing, build, mount ./kv.sqlite3 at ./kv
#   make test       install what is missing, build, run every test
#   make check-asan the whole suite under AddressSanitizer + UBSan
#   make bench      benchmarks, rewrites bench/RESULTS.md (QUICK=1 for a smoke run)
#   make install    PREFIX=/usr/local DESTDIR=

CC        ?= cc
PKG_CONFIG ?= pkg-config
PREFIX    ?= /usr/local
bindir     = $(PREFIX)/bin
sbindir    = /sbin
BUILD     ?= build

OPT       ?= -O2 -g
CFLAGS    ?= $(OPT)
WARN       = -std=c11 -Wall -Wextra
ifdef DEVELOPER
WARN      += -Werror -Wstrict-prototypes -Wmissing-prototypes -Wwrite-strings
endif
ifdef SANITIZE
CFLAGS     = -O1 -g -fno-omit-frame-pointer -fsanitize=$(SANITIZE) -fno-sanitize-recover=all
LDFLAGS   += -fsanitize=$(SANITIZE)
endif

DEPS_CFLAGS := $(shell $(PKG_CONFIG) --cflags fuse3 sqlite3 2>/dev/null)
DEPS_LIBS   := $(shell $(PKG_CONFIG) --libs fuse3 sqlite3 2>/dev/null)
ALL_CFLAGS   = $(WARN) -D_GNU_SOURCE -Iengine -Ifs $(DEPS_CFLAGS) $(CPPFLAGS) $(CFLAGS) -MMD -MP
LIBS         = $(DEPS_LIBS) -lpthread -lm

ifneq ($(V),1)
Q = @
quiet = @printf '  %-7s %s\n' $(1) $(2);
endif

ENGINE_SRC := $(wildcard engine/*.c)
FS_SRC     := $(wildcard fs/*.c)
MOUNT_SRC  := $(wildcard mount/*.c)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
BENCH_SRC  := $(wildcard bench/*.c)
TOOLS_SRC  := $(wildcard tests/tools/*.c)

ENGINE_OBJ := $(ENGINE_SRC:%.c=$(BUILD)/%.o)
FS_OBJ     := $(FS_SRC:%.c=$(BUILD)/%.o)
MOUNT_OBJ  := $(MOUNT_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOLS_BIN  := $(TOOLS_SRC:tests/tools/%.c=$(BUILD)/tests/tools/%)

# The default build leaves its programs in the tree (./kvfs, bench/kvbench);
# other builds (check-asan) keep everything under $(BUILD).
ifeq ($(BUILD),build)
OUT = .
else
OUT = $(BUILD)
endif
PROG       := $(OUT)/kvfs
BENCH_BIN  := $(BENCH_SRC:%.c=$(OUT)/%)

LIBKV  = $(BUILD)/libkv.a
LIBFS  = $(BUILD)/libkvfs.a

.PHONY: all run test unit check-asan bench install uninstall clean deps
all: $(PROG) $(UNIT_BIN) $(TOOLS_BIN) $(BENCH_BIN)

# Objects of the test and bench programs are kept: deleted, the next build
# would make them all again.
.SECONDARY:

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(call quiet,CC,$<)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIBKV): $(ENGINE_OBJ)
	$(call quiet,AR,$@)rm -f $@ && ar rcs $@ $^

$(LIBFS): $(FS_OBJ)
	$(call quiet,AR,$@)rm -f $@ && ar rcs $@ $^

$(PROG): $(MOUNT_OBJ) $(LIBFS) $(LIBKV)
	$(call quiet,LINK,$@)$(CC) $(LDFLAGS) -o $@ $(MOUNT_OBJ) $(LIBFS) $(LIBKV) $(LIBS)

# Helper programs for the bats and interop tests (engine only).
$(BUILD)/tests/tools/%: $(BUILD)/tests/tools/%.o $(LIBKV)
	@mkdir -p $(dir $@)
	$(call quiet,LINK,$@)$(CC) $(LDFLAGS) -o $@ $< $(LIBKV) $(LIBS)

$(BUILD)/tests/test_%: $(BUILD)/tests/unit/test_%.o $(LIBFS) $(LIBKV)
	@mkdir -p $(dir $@)
	$(call quiet,LINK,$@)$(CC) $(LDFLAGS) -o $@ $< $(LIBFS) $(LIBKV) $(LIBS)

$(OUT)/bench/%: $(BUILD)/bench/%.o $(LIBKV)
	@mkdir -p $(dir $@)
	$(call quiet,LINK,$@)$(CC) $(LDFLAGS) -o $@ $< $(LIBKV) $(LIBS)

# Install build and test dependencies when missing (Debian, as root).
deps:
	$(Q)sh tests/install-deps.sh

run: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)sh mount/run-demo.sh

test: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)sh tests/run-all.sh

unit: all
	$(Q)sh tests/run-all.sh unit

check-asan: deps
	$(Q)$(MAKE) --no-print-directory BUILD=build-asan SANITIZE=address,undefined all
	$(Q)ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp KVFS_BUILD=build-asan sh tests/run-all.sh

bench: all
	$(Q)sh bench/run.sh

install: kvfs
	install -d $(DESTDIR)$(bindir)
	install -m 755 kvfs $(DESTDIR)$(bindir)/kvfs
	install -d $(DESTDIR)$(sbindir)
	ln -sf $(bindir)/kvfs $(DESTDIR)$(sbindir)/mount.fuse.kvfs

uninstall:
	rm -f $(DESTDIR)$(bindir)/kvfs $(DESTDIR)$(sbindir)/mount.fuse.kvfs

clean:
	rm -rf build build-asan kvfs $(BENCH_SRC:%.c=%)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
