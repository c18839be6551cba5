/work/wt/int-robust/cmd/dump.o: cmd/dump.c cmd/cmd.h common/json.h \
 common/log.h common/util.h dump/dump.h image/codec.h image/image.h \
 image/format.h image/mac.h image/key.h image/sha256.h image/model.h \
 arch/arch.h arch/x86_64/arch-defs.h ptrace/proc.h ptrace/tracee.h \
 ptrace/tree.h
cmd/cmd.h:
common/json.h:
common/log.h:
common/util.h:
dump/dump.h:
image/codec.h:
image/image.h:
image/format.h:
image/mac.h:
image/key.h:
image/sha256.h:
image/model.h:
arch/arch.h:
arch/x86_64/arch-defs.h:
ptrace/proc.h:
ptrace/tracee.h:
ptrace/tree.h:
