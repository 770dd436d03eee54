# veneur-c: one non-recursive GNU Makefile. Sources are found by wildcard so a new
# module needs no Makefile edit:
#   src/**/*.c (except src/main.c)  -> libveneur objects
#   src/main.c                      -> build/veneur
#   tools/<name>/*.c                -> build/<name>
#   tests/unit/**/test_*.c          -> one cmocka runner each
#   fuzz/fuzz_*.c                   -> libFuzzer targets (clang, ASan+UBSan)
#   proto/*.proto                   -> protobuf-c code in $(BUILD)/gen
# MODE=release (build/), MODE=asan (build/asan/, ASan+UBSan) or MODE=tsan (build/tsan/, ThreadSanitizer;
# run with TSAN_OPTIONS=suppressions=tests/tsan.supp, see scripts/run-tests.sh).

MODE ?= release
CC ?= cc
ifeq ($(MODE),asan)
  BUILD := build/asan
  OPT := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else ifeq ($(MODE),tsan)
  BUILD := build/tsan
  OPT := -O1 -g -fsanitize=thread -fno-omit-frame-pointer
else ifneq ($(MODE),release)
  $(error MODE must be release, asan or tsan (got "$(MODE)"))
else
  BUILD := build
  OPT := -O2 -g
endif

VERSION ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo dirty)
BUILD_DATE ?= $(shell git log -1 --format=%ct 2>/dev/null || echo dirty)
PKGS := yaml-0.1 libmicrohttpd openssl zlib libprotobuf-c libxxhash libnghttp2 libcurl snappy rdkafka re2 libcares double-conversion
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
WARN := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes -Wvla -fno-common
# WERROR=1 (scripts/run-tests.sh sets it): any warning fails the build, including the fuzz build's.
WERROR ?= 0
ifeq ($(WERROR),1)
  WARN += -Werror
endif
CFLAGS_ALL := -std=c11 -D_GNU_SOURCE $(WARN) $(OPT) -pthread -Isrc -I$(BUILD)/gen $(PKG_CFLAGS) \
  -MMD -MP $(EXTRA_CFLAGS)
LDLIBS_ALL := $(PKG_LIBS) -lm -pthread -lstdc++

# Build identity lives in a generated header rewritten only when it changes, so a
# new commit rebuilds just the files that include core/version.h.
BUILD_INFO := $(BUILD)/gen/vn_build_info.h
$(shell mkdir -p $(BUILD)/gen && printf '#define VN_VERSION "%s"\n#define VN_BUILD_DATE "%s"\n' '$(VERSION)' '$(BUILD_DATE)' > $(BUILD_INFO).tmp && (cmp -s $(BUILD_INFO).tmp $(BUILD_INFO) || mv $(BUILD_INFO).tmp $(BUILD_INFO)); rm -f $(BUILD_INFO).tmp)

rwildcard = $(foreach d,$(wildcard $(1:=/*)),$(call rwildcard,$d,$2) $(filter $(subst *,%,$2),$d))

PROTOS := $(wildcard proto/*.proto)
PROTO_C := $(patsubst proto/%.proto,$(BUILD)/gen/%.pb-c.c,$(PROTOS))
PROTO_H := $(PROTO_C:.c=.h)
LIB_SRC := $(filter-out src/main.c,$(call rwildcard,src,*.c))
LIB_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRC)) $(PROTO_C:.c=.o)
# C++ is allowed for two library shims only: RE2 (src/core/re2_shim.cc, see core/regex.h) and
# double-conversion (src/core/dtoa_shim.cc, see core/dtoa.h).
# vptr (and, with clang, function) checks are off: the C link (cc, clang) does not pull UBSan's C++ runtime.
CXX_SRC := $(call rwildcard,src,*.cc)
LIB_OBJ += $(patsubst %.cc,$(BUILD)/obj/%.o,$(CXX_SRC))
CXXFLAGS_ALL := -std=c++17 -D_GNU_SOURCE -Wall -Wextra $(OPT) -fno-sanitize=vptr -pthread -Isrc $(PKG_CFLAGS) -MMD -MP
TOOLS := $(notdir $(wildcard tools/*))
TOOL_BINS := $(addprefix $(BUILD)/,$(TOOLS))
UNIT_SRC := $(shell find tests/unit -name 'test_*.c' 2>/dev/null | sort)
UNIT_BINS := $(patsubst %.c,$(BUILD)/%,$(UNIT_SRC))
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

.PHONY: all deps run test test-unit test-asan test-e2e fuzz fuzz-build bench clean unit-bins fleet
all: $(BUILD)/veneur $(TOOL_BINS)

deps:
	@scripts/deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	./build/veneur

test: deps
	@scripts/run-tests.sh

unit-bins: $(UNIT_BINS) $(BENCH_BINS)

$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: proto/%.proto
	@mkdir -p $(BUILD)/gen
	protoc-c --proto_path=proto --c_out=$(BUILD)/gen $<

$(BUILD)/gen/%.pb-c.o: $(BUILD)/gen/%.pb-c.c
	$(CC) $(CFLAGS_ALL) -Wno-missing-prototypes -c $< -o $@

$(BUILD)/obj/%.o: %.c | $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/obj/%.o: %.cc
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS_ALL) -c $< -o $@

$(BUILD)/libveneur.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/veneur: $(BUILD)/obj/src/main.o $(BUILD)/libveneur.a
	$(CC) $(OPT) -o $@ $^ $(LDLIBS_ALL)

.SECONDEXPANSION:
$(TOOL_BINS): $(BUILD)/%: $$(addprefix $(BUILD)/obj/,$$(addsuffix .o,$$(basename $$(wildcard tools/$$*/*.c)))) $(BUILD)/libveneur.a
	$(CC) $(OPT) -o $@ $^ $(LDLIBS_ALL)

$(UNIT_BINS): $(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(BUILD)/libveneur.a
	@mkdir -p $(dir $@)
	$(CC) $(OPT) -o $@ $^ $(LDLIBS_ALL) -lcmocka

$(BENCH_BINS): $(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(BUILD)/libveneur.a
	@mkdir -p $(dir $@)
	$(CC) $(OPT) -o $@ $^ $(LDLIBS_ALL)

# --- fuzzing: libFuzzer needs clang; the library is rebuilt with sanitizer coverage.
FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
FUZZ_LIB_OBJ := $(patsubst %.c,build/fuzz/obj/%.o,$(LIB_SRC)) $(patsubst build/gen/%.c,build/fuzz/gen/%.o,$(patsubst $(BUILD)/gen/%,build/gen/%,$(PROTO_C)))
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) -pthread -Isrc -Ibuild/gen $(PKG_CFLAGS) -MMD -MP
FUZZ_LIB_OBJ += $(patsubst %.cc,build/fuzz/obj/%.o,$(CXX_SRC))

build/fuzz/obj/%.o: %.cc
	@mkdir -p $(dir $@)
	clang++ -std=c++17 -D_GNU_SOURCE -pthread -Isrc $(PKG_CFLAGS) -MMD -MP $(FUZZ_FLAGS) -fno-sanitize=vptr,function -c $< -o $@

build/fuzz/obj/%.o: %.c | $(patsubst proto/%.proto,build/gen/%.pb-c.h,$(PROTOS))
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(FUZZ_FLAGS) -c $< -o $@

build/fuzz/gen/%.o: build/gen/%.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(FUZZ_FLAGS) -Wno-missing-prototypes -c $< -o $@

$(FUZZ_BINS): build/fuzz/%: fuzz/%.c $(FUZZ_LIB_OBJ)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -g -O1 -fsanitize=fuzzer,address,undefined -o $@ $(filter %.c %.o,$^) $(PKG_LIBS) -lm -pthread -lstdc++

fuzz-build: $(FUZZ_BINS)

FUZZ_TIME ?= 60
fuzz: deps fuzz-build
	@scripts/run-fuzz.sh $(FUZZ_TIME)

bench: deps all unit-bins
	@scripts/bench.sh

# issue 16: 20 locals, 3 proxies, 4 globals on 127.0.0.1; prints the loss table (tests/fleet/fleet.py)
fleet: deps all
	python3 tests/fleet/fleet.py

clean:
	rm -rf build

-include $(call rwildcard,build,*.d)

# Generated protobuf headers are inputs of many objects: never delete them as intermediates.
.SECONDARY: $(PROTO_C) $(PROTO_H) $(patsubst proto/%.proto,build/gen/%.pb-c.c,$(PROTOS)) $(patsubst proto/%.proto,build/gen/%.pb-c.h,$(PROTOS))
