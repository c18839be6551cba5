# ckpt: one non-recursive GNU Makefile.  See README.md for the targets.

HOST_ARCH := $(shell uname -m | sed -e 's/^arm64$$/aarch64/')
ARCH	?= $(HOST_ARCH)
PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
MANDIR	?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/site-functions
VERSION	:= 0.1.0
O	?= build/$(ARCH)
WERROR	?= 1
V	?= 0
ifeq ($(V),0)
Q	:= @
endif

PKG_CONFIG ?= pkg-config
PKGS	:= libelf capstone zlib libzstd liblz4 libcrypto
NM	?= nm
READELF	?= readelf
AR	?= ar

# Cross build (make ARCH=aarch64 on x86-64): Debian's cross compiler, the
# arm64 libraries as ../shared/arm64/setup installs them (multiarch) or
# unpacks them (a sysroot in its cache), static binaries throughout: the
# emulated test guest has no dynamic loader.  tests/arm64-deps.sh sets
# all of this up.
ifneq ($(ARCH),$(HOST_ARCH))
CROSS_COMPILE ?= $(ARCH)-linux-gnu-
ifeq ($(origin CC),default)
CC	:= $(CROSS_COMPILE)gcc
endif
NM	:= $(CROSS_COMPILE)nm
AR	:= $(CROSS_COMPILE)ar
READELF	:= $(CROSS_COMPILE)readelf
ARM64_CACHE ?= $(or $(CKPT_ARM64_CACHE),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/ckpt-arm64)
CROSS_SYSROOT ?= $(if $(filter sysroot,$(shell cat $(ARM64_CACHE)/libmode 2>/dev/null)),$(ARM64_CACHE)/sysroot)
PKG_CONFIG := PKG_CONFIG_LIBDIR=$(CROSS_SYSROOT)/usr/lib/$(ARCH)-linux-gnu/pkgconfig:$(CROSS_SYSROOT)/usr/share/pkgconfig \
	PKG_CONFIG_SYSROOT_DIR=$(CROSS_SYSROOT) pkg-config --static
STATIC	:= -static
endif

WARN	:= -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes \
	   -Wmissing-prototypes -Wvla -Wundef
ifeq ($(WERROR),1)
WARN	+= -Werror
endif
BASE_CFLAGS := -std=gnu11 -O2 -g -D_GNU_SOURCE $(WARN) -I. -Iarch/$(ARCH) \
	   -DCKPT_VERSION_STR='"$(VERSION)"' -MMD -MP
FORTIFY	:= -D_FORTIFY_SOURCE=2
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
ifdef STATIC
# A sysroot's headers are system headers too (no warnings from them); its
# multiarch ones too (OpenSSL's opensslconf.h), which pkg-config omits.
PKG_CFLAGS := $(patsubst -I%,-isystem %,$(PKG_CFLAGS)) \
	$(if $(CROSS_SYSROOT),-isystem $(CROSS_SYSROOT)/usr/include/$(ARCH)-linux-gnu)
endif
# Capstone is loaded when first used (common/capstone.h): linked only where
# nothing can be loaded, in a static build.
LINK_PKGS  := $(if $(STATIC),$(PKGS),$(filter-out capstone,$(PKGS)))
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(LINK_PKGS) 2>/dev/null || echo -lelf $(if $(STATIC),-lcapstone) -lz -lzstd -llz4 -lcrypto) $(STATIC)
ifdef STATIC
PKG_CFLAGS += -DCKPT_CAPSTONE_LINKED
endif
# User flags come last so they win (musl's rule).
ALL_CFLAGS = $(BASE_CFLAGS) $(FORTIFY) $(PKG_CFLAGS) $(EXTRA_CFLAGS) $(CPPFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(EXTRA_LDFLAGS) $(LDFLAGS)
LIBS	= $(PKG_LIBS) -lpthread

# Everything but the command line is libckpt.a, which ckpt, the unit tests
# and the fuzzers link: cmd/ only parses options and dispatches.
CMD_SRCS := $(wildcard cmd/*.c)
LIB_SRCS := $(wildcard common/*.c ptrace/*.c image/*.c dump/*.c restore/*.c inspect/*.c check/*.c run/*.c) \
	   $(wildcard arch/$(ARCH)/*.c)
SRCS	:= $(CMD_SRCS) $(LIB_SRCS)
CMD_OBJS := $(CMD_SRCS:%.c=$(O)/%.o)
LIB_OBJS := $(LIB_SRCS:%.c=$(O)/%.o) $(O)/stub/blob.o
OBJS	:= $(CMD_OBJS) $(LIB_OBJS)
LIB	:= $(O)/libckpt.a

# The stub: freestanding, its own flags, no sanitizers (CRIU's pie rule).
STUB_CFLAGS := -std=gnu11 -O2 -I. -Iarch/$(ARCH) -ffreestanding -nostdlib \
	   -fno-builtin -fno-stack-protector -fPIE -fno-asynchronous-unwind-tables \
	   -fno-unwind-tables -fno-exceptions -U_FORTIFY_SOURCE -fno-pic -fpie \
	   -fcf-protection=none $(WARN)
STUB_CFLAGS_x86_64  := -mno-sse -mno-mmx -mno-red-zone
STUB_CFLAGS_aarch64 := -mgeneral-regs-only
STUB_ELF := $(O)/stub/stub.elf

# A target in tests/targets/$(ARCH)/ replaces the one of the same name in
# tests/targets/ (fpu_regs.c there is x86-64 assembly).
TARGET_SRCS := $(wildcard tests/targets/*.c tests/targets/$(ARCH)/*.c)
TARGETS	:= $(sort $(foreach f,$(TARGET_SRCS),$(O)/targets/$(basename $(notdir $(f)))))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNITS	:= $(UNIT_SRCS:tests/unit/%.c=$(O)/unit/%)

# The ./ckpt symlink is for this machine: a cross build leaves it alone.
all: $(O)/ckpt $(if $(STATIC),,ckpt)

ckpt: $(O)/ckpt
	ln -sf $(O)/ckpt ckpt

$(O)/ckpt: $(CMD_OBJS) $(LIB)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(CMD_OBJS) $(LIB) $(LIBS)

$(LIB): $(LIB_OBJS)
	@echo "  AR      $@"
	$(Q)rm -f $@ && $(AR) rcs $@ $(LIB_OBJS)

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O)/stub/%.o: stub/%.c
	@mkdir -p $(dir $@)
	$(CC) $(STUB_CFLAGS) $(STUB_CFLAGS_$(ARCH)) -MMD -MP -c -o $@ $<

$(O)/stub/entry.o: arch/$(ARCH)/stub-entry.S
	@mkdir -p $(dir $@)
	$(CC) -c -o $@ $<

# The stub must be self-contained: no undefined symbols, no relocations.
$(STUB_ELF): $(O)/stub/entry.o $(O)/stub/stub.o stub/stub.lds
	$(CC) -nostdlib -pie -Wl,--no-dynamic-linker,-z,noexecstack,-z,norelro,--no-warn-rwx-segments \
		-Wl,--build-id=none -T stub/stub.lds -o $@ $(O)/stub/entry.o $(O)/stub/stub.o
	@if [ -n "$$($(NM) -u $@)" ]; then echo "stub: undefined symbols:"; $(NM) -u $@; rm -f $@; exit 1; fi
	@if ! $(READELF) -r $@ | grep -q 'no relocations'; then echo "stub: has relocations"; $(READELF) -r $@; rm -f $@; exit 1; fi

$(O)/stub/blob.o: stub/blob.S $(STUB_ELF)
	$(CC) -c -DSTUB_ELF='"$(STUB_ELF)"' -o $@ stub/blob.S

$(O)/targets/%: tests/targets/$(ARCH)/%.c tests/targets/target.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O1 -g -D_GNU_SOURCE -Wall -Wextra -Werror -pthread -o $@ $< -lm $(STATIC)

$(O)/targets/%: tests/targets/%.c $(wildcard tests/targets/*.h)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O1 -g -D_GNU_SOURCE -Wall -Wextra -Werror -pthread -o $@ $< -lm $(STATIC)

$(O)/targets/fd_pidfd $(O)/targets/fd_pidfd_rel: tests/targets/pidfd.h

# A test tool that writes what ckpt's writer once wrote: it links libckpt.
$(O)/targets/sign_format2: tests/targets/sign_format2.c $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(LIBS)

$(O)/unit/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< $(LIB) $(LIBS)

targets: $(TARGETS)
units: $(UNITS)

# Build with sanitizers (ckpt only; the stub never gets them).
asan debug:
	$(MAKE) O=build/$(ARCH)-asan FORTIFY= \
		EXTRA_CFLAGS='-O0 -g3 -fsanitize=address,undefined -fno-omit-frame-pointer' \
		EXTRA_LDFLAGS='-fsanitize=address,undefined' build/$(ARCH)-asan/ckpt

# The README's two commands.  Both install what they need first.
check: deps
	$(MAKE) all targets units
	CKPT_CHECK_ARM64=$(CHECK_ARM64) tests/run-checks.sh $(O)

# The suite on aarch64, in the emulated guest of ../shared/arm64: the tests
# of what depends on the architecture (those tagged arch-independent are the
# host's: tests/run-checks.sh).  make check runs it too on an x86-64 host
# (CHECK_ARM64=0 for the host's suite alone).  Same summary as make check.
CHECK_ARM64 ?= $(if $(filter x86_64,$(HOST_ARCH)),1,0)
check-arm64:
	tests/arm64-deps.sh
	$(MAKE) all targets
	CKPT_CHECK_HOST=0 CKPT_CHECK_ARM64=1 tests/run-checks.sh $(O)

demo: deps-build
	$(MAKE) all targets
	tests/demo.sh $(O)

deps:
	tests/deps.sh build test
deps-build:
	tests/deps.sh build

install: $(O)/ckpt
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 755 $(O)/ckpt $(DESTDIR)$(BINDIR)/ckpt
	install -m 644 completions/ckpt.bash $(DESTDIR)$(BASHCOMPDIR)/ckpt
	install -m 644 completions/_ckpt $(DESTDIR)$(ZSHCOMPDIR)/_ckpt
	install -m 644 ckpt.1 $(DESTDIR)$(MANDIR)/man1/ckpt.1

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/ckpt $(DESTDIR)$(BASHCOMPDIR)/ckpt $(DESTDIR)$(ZSHCOMPDIR)/_ckpt \
		$(DESTDIR)$(MANDIR)/man1/ckpt.1

clean:
	rm -rf build ckpt

# The benchmark (bench/README.md): several minutes, root, not part of check.
# BENCH_ARGS='--runs 3 --plot' for instance.
bench: all
	bench/run $(BENCH_ARGS)

format:
	clang-format -i $(SRCS) stub/*.c $(wildcard */*.h arch/*/*.h)

include tests/fuzz/fuzz.mk

.PHONY: all targets units asan debug check check-arm64 demo deps deps-build install uninstall clean format bench
-include $(OBJS:.o=.d) $(O)/stub/stub.d
