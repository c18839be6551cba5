# tests/fuzz: the libFuzzer target for everything that reads an image
# (tests/fuzz/README.md).  Included by the Makefile.
#
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_JOBS=2]   build, make the corpus, run
#   make fuzz-build                            the fuzzer only
#
# ckpt's objects are rebuilt with clang, libFuzzer's coverage and the
# sanitizers in their own directory ($(FUZZ_O)), by a sub-make with
# O=$(FUZZ_O); the restore stub is not built (tests/fuzz/standins.c).
# The corpus (tests/fuzz/gen-corpus.sh) needs the normal build: it dumps
# test targets.  New inputs found while fuzzing go to $(FUZZ_O)/corpus,
# crashes to $(FUZZ_O)/crashes.

FUZZ_O		?= build/fuzz
FUZZ_CC		?= clang
FUZZ_SECONDS	?= 60
FUZZ_JOBS	?= 2
FUZZ_MAXLEN	?= 262144
FUZZ_SAN	:= -fsanitize=address,undefined -fno-sanitize-recover=all
# clang (not gcc) takes -Wformat=2 to cover common/log.c vsnprintf of its
# va_list; the callers are format-checked all the same.
FUZZ_CFLAGS	:= -O1 -g -fno-omit-frame-pointer $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
		   -Wno-format-nonliteral
FUZZ_LIB_OBJS	 = $(filter-out $(O)/cmd/main.o $(O)/cmd/inspect-sym.o $(O)/stub/blob.o,$(OBJS)) \
		   $(O)/tests/fuzz/main.o $(O)/tests/fuzz/standins.o
FUZZ_BIN	:= $(FUZZ_O)/fuzz/fuzz_image

# These two are made by the sub-make only (O = $(FUZZ_O), CC = clang).
$(O)/fuzz/fuzz_image: $(O)/tests/fuzz/fuzz_image.o $(O)/tests/fuzz/mutator.o $(FUZZ_LIB_OBJS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LIBS)

$(O)/fuzz/mkseeds: $(O)/tests/fuzz/mkseeds.o $(FUZZ_LIB_OBJS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -fsanitize=fuzzer-no-link -o $@ $^ $(LIBS)

# cmd/main.c without its main(), which libFuzzer brings: the helpers the
# subcommands share stay.
$(O)/tests/fuzz/main.o: cmd/main.c
	@mkdir -p $(dir $@)
	@echo "  CC      $< (no main)"
	$(Q)$(CC) $(ALL_CFLAGS) -Dmain=ckpt_main -Wno-missing-prototypes -c -o $@ $<

fuzz-build:
	$(MAKE) O=$(FUZZ_O) CC=$(FUZZ_CC) FORTIFY= EXTRA_CFLAGS='$(FUZZ_CFLAGS)' \
		EXTRA_LDFLAGS='$(FUZZ_SAN)' $(FUZZ_BIN) $(FUZZ_O)/fuzz/mkseeds

# The seeds, then the regression inputs once, then FUZZ_JOBS fuzzers for
# FUZZ_SECONDS; the figures come from libFuzzer's last lines per job.
fuzz: fuzz-build
	$(MAKE) all targets
	tests/fuzz/gen-corpus.sh $(O) $(FUZZ_O)/fuzz/mkseeds $(FUZZ_O)/seeds
	tests/fuzz/run.sh $(FUZZ_BIN) $(FUZZ_O) $(FUZZ_SECONDS) $(FUZZ_JOBS) $(FUZZ_MAXLEN)

.PHONY: fuzz fuzz-build
-include $(FUZZ_O)/tests/fuzz/*.d
