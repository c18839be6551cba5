# tests/fuzz: libFuzzer targets for everything that reads an image
# (tests/fuzz/README.md).  Included by the Makefile.
#
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_JOBS=2] [FUZZ_TARGETS=fuzz_image]
#                       build, make the seeds, run each target for FUZZ_SECONDS
#   make fuzz-build     the fuzzers only
#
# libckpt.a is rebuilt with clang, libFuzzer's coverage and the sanitizers
# in its own directory ($(FUZZ_O)), by a sub-make with O=$(FUZZ_O) (the
# restore stub with clang too, without them).
# The seeds (tests/fuzz/gen-corpus.sh) need the normal build: it dumps
# test targets.  Per target T, new inputs go to $(FUZZ_O)/corpus/T,
# crashes to $(FUZZ_O)/crashes/T.

FUZZ_O		?= build/fuzz
FUZZ_CC		?= clang
FUZZ_SECONDS	?= 60
FUZZ_JOBS	?= 2
FUZZ_MAXLEN	?= 262144
FUZZ_TARGETS	?= fuzz_image fuzz_chain
FUZZ_SAN	:= -fsanitize=address,undefined -fno-sanitize-recover=all
# clang (not gcc) takes -Wformat=2 to cover common/log.c vsnprintf of its
# va_list; the callers are format-checked all the same.
FUZZ_CFLAGS	:= -O1 -g -fno-omit-frame-pointer $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
		   -Wno-format-nonliteral

# These are made by the sub-make only (O = $(FUZZ_O), CC = clang).
$(O)/fuzz/fuzz_%: $(O)/tests/fuzz/fuzz_%.o $(O)/tests/fuzz/mutator.o $(O)/tests/fuzz/fields.o $(O)/tests/fuzz/common.o $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LIBS)

$(O)/fuzz/mkseeds: $(O)/tests/fuzz/mkseeds.o $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -fsanitize=fuzzer-no-link -o $@ $^ $(LIBS)

fuzz-build:
	$(MAKE) O=$(FUZZ_O) CC=$(FUZZ_CC) FORTIFY= EXTRA_CFLAGS='$(FUZZ_CFLAGS)' \
		EXTRA_LDFLAGS='$(FUZZ_SAN)' $(FUZZ_TARGETS:%=$(FUZZ_O)/fuzz/%) $(FUZZ_O)/fuzz/mkseeds

# The seeds, then per target: its regression inputs and seeds once, then
# FUZZ_JOBS fuzzers for FUZZ_SECONDS, then its figures.
fuzz: fuzz-build
	$(MAKE) all targets
	tests/fuzz/gen-corpus.sh $(O) $(FUZZ_O)/fuzz/mkseeds $(FUZZ_O)/seeds
	@fail=0; for t in $(FUZZ_TARGETS); do \
		tests/fuzz/run.sh $$t $(FUZZ_O) $(FUZZ_SECONDS) $(FUZZ_JOBS) $(FUZZ_MAXLEN) || fail=1; \
	done; exit $$fail

.PHONY: fuzz fuzz-build
-include $(FUZZ_O)/tests/fuzz/*.d
