# grove - a content-addressed, branchable key-value store of git objects.
#
#   make deps     install the Debian packages the project needs
#   make          libgrove.a, libgrove.so and the grove CLI (build/)
#   make test     deps, then the sanitized build and every test
#   make bench    the benchmarks (tools/bench); BENCH_REPO=path for a real history
#   make run      deps, build, then the main job
#   make install  PREFIX=/usr/local DESTDIR=

PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc

SOVERSION := 0
VERSION := 0.1.0

# Packages for building, testing and benchmarking (Debian 12 names).
DEPS_BUILD := build-essential pkg-config libgit2-dev liblmdb-dev libdeflate-dev zlib1g-dev \
	libssl-dev libhttp-parser-dev libexpat1-dev libical-dev
DEPS_TEST := libcriterion-dev git clang-14 libclang-rt-14-dev lmdb-utils python3-dulwich \
	curl git-doc lighttpd litmus python3-caldav xandikos radicale vdirsyncer khal openssh-server time
DEPS := $(DEPS_BUILD) $(DEPS_TEST)

PKGS := libgit2 lmdb libdeflate zlib libcrypto libical
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-missing-field-initializers
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) -Istore -fPIC
CFLAGS ?= -O2 -g
SAN_CFLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# The library: the store and the layers that sit on it without a network.
LIB_DIRS := store git sync
LIB_SRC := $(sort $(wildcard $(addsuffix /*.c,$(LIB_DIRS))))
# The server side: event loop, HTTP and DAV, linked into the CLI.
SERVER_SRC := $(sort $(wildcard runtime/*.c net/*.c))
CLI_SRC := $(sort $(wildcard tools/grove/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
TEST_HELPERS := $(sort $(wildcard tests/unit/helpers/*.c))

B := build
T := build/test

LIB_OBJ := $(LIB_SRC:%.c=$(B)/obj/%.o)
SERVER_OBJ := $(SERVER_SRC:%.c=$(B)/obj/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(B)/obj/%.o)
T_LIB_OBJ := $(LIB_SRC:%.c=$(T)/obj/%.o)
T_SERVER_OBJ := $(SERVER_SRC:%.c=$(T)/obj/%.o)
T_CLI_OBJ := $(CLI_SRC:%.c=$(T)/obj/%.o)
T_HELPER_OBJ := $(TEST_HELPERS:%.c=$(T)/obj/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(T)/unit/%)

.PHONY: all deps test unit shell bench run install clean fuzz fuzz-smoke
all: $(B)/libgrove.a $(B)/libgrove.so.$(SOVERSION) $(B)/grove

deps:
	@sh tools/deps.sh $(DEPS)

# --- release build ---------------------------------------------------------
$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

$(B)/libgrove.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(B)/libgrove.so.$(SOVERSION): $(LIB_OBJ) store/libgrove.map
	$(CC) -shared -Wl,-soname,libgrove.so.$(SOVERSION) -Wl,--version-script=store/libgrove.map -o $@ $(LIB_OBJ) $(PKG_LIBS)
	ln -sf libgrove.so.$(SOVERSION) $(B)/libgrove.so

$(B)/grove: $(CLI_OBJ) $(SERVER_OBJ) $(B)/libgrove.a
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJ) $(SERVER_OBJ) $(B)/libgrove.a $(PKG_LIBS) $(SERVER_LIBS)

# --- sanitized test build --------------------------------------------------
$(T)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(SAN_CFLAGS) $(PKG_CFLAGS) -Itests/unit -MMD -MP -c $< -o $@

$(T)/libgrove.a: $(T_LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(T)/grove: $(T_CLI_OBJ) $(T_SERVER_OBJ) $(T)/libgrove.a
	$(CC) $(SAN_CFLAGS) -o $@ $(T_CLI_OBJ) $(T_SERVER_OBJ) $(T)/libgrove.a $(PKG_LIBS) $(SERVER_LIBS)

$(T)/unit/%: $(T)/obj/tests/unit/%.o $(T_HELPER_OBJ) $(T)/libgrove.a $(T_SERVER_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_CFLAGS) -o $@ $< $(T_HELPER_OBJ) $(T_SERVER_OBJ) $(T)/libgrove.a $(PKG_LIBS) $(SERVER_LIBS) -lcriterion

SERVER_LIBS := -lhttp_parser -lz -lcrypt -lexpat -lical

# Every stage runs even when an earlier one fails; the last line totals them.
test: deps
	@rm -f $(T)/count-*; rc=0; \
	$(MAKE) --no-print-directory unit || rc=1; \
	$(MAKE) --no-print-directory shell || rc=1; \
	$(MAKE) --no-print-directory fuzz-smoke || rc=1; \
	cat $(T)/count-* 2>/dev/null | awk '{p += $$1; f += $$2} END {printf "tests: %d passed, %d failed\n", p, f}'; \
	exit $$rc

unit: $(UNIT_BIN) $(T)/grove
	@sh tests/run-unit.sh $(UNIT_BIN)

shell: $(T)/grove $(B)/grove
	@sh tests/run-shell.sh $(T)/grove

bench: deps all
	@$(MAKE) --no-print-directory -C . $(B)/bench/store_bench
	@sh tools/bench/run.sh $(B)/bench/store_bench
	@sh tools/bench/git_server_bench.sh $(B)/grove $(B)/bench/store_bench
	@sh tools/bench/dav_bench.sh $(B)/grove
	@sh tools/bench/sync_bench.sh $(B)/grove $(B)/bench/store_bench

# The benchmark program: tools/bench/*.c with the release flags.
$(B)/bench/store_bench: $(patsubst %.c,$(B)/obj/%.o,$(sort $(wildcard tools/bench/*.c))) $(B)/libgrove.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $(filter %.o,$^) $(B)/libgrove.a $(PKG_LIBS)

run: deps all
	@sh tools/run.sh $(B)/grove

install: all
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig \
		$(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 644 store/grove.h $(DESTDIR)$(PREFIX)/include/grove.h
	install -m 644 $(B)/libgrove.a $(DESTDIR)$(PREFIX)/lib/libgrove.a
	install -m 755 $(B)/libgrove.so.$(SOVERSION) $(DESTDIR)$(PREFIX)/lib/libgrove.so.$(SOVERSION)
	ln -sf libgrove.so.$(SOVERSION) $(DESTDIR)$(PREFIX)/lib/libgrove.so
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' tools/grove.pc.in \
		> $(DESTDIR)$(PREFIX)/lib/pkgconfig/grove.pc
	install -m 755 $(B)/grove $(DESTDIR)$(PREFIX)/bin/grove
	install -m 644 tools/grove.1 $(DESTDIR)$(PREFIX)/share/man/man1/grove.1

# --- libFuzzer targets (clang) ----------------------------------------------
F := build/fuzz
FUZZ_CC := clang-14
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(F)/%)
F_LIB_OBJ := $(LIB_SRC:%.c=$(F)/obj/%.o)
F_SERVER_OBJ := $(SERVER_SRC:%.c=$(F)/obj/%.o)

$(F)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(BASE_CFLAGS) $(FUZZ_CFLAGS) $(PKG_CFLAGS) -Inet -Iruntime -MMD -MP -c $< -o $@

$(F)/libgrove.a: $(F_LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(F)/%: $(F)/obj/tests/fuzz/%.o $(F)/libgrove.a $(F_SERVER_OBJ)
	$(FUZZ_CC) -g -fsanitize=fuzzer,address,undefined -o $@ $< $(F_SERVER_OBJ) $(F)/libgrove.a $(PKG_LIBS) $(SERVER_LIBS)

fuzz: $(FUZZ_BIN)

# A short run of every fuzzer (FUZZ_SECONDS each) as part of `make test`.
FUZZ_SECONDS ?= 10
fuzz-smoke: fuzz
	@sh tests/run-fuzz.sh $(FUZZ_SECONDS) $(FUZZ_BIN)

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
