/work/wt/int-robust/cmd/restore.o: cmd/restore.c cmd/cmd.h \
 inspect/inspect.h image/check.h image/image.h image/format.h image/mac.h \
 image/key.h image/sha256.h image/model.h arch/arch.h \
 arch/x86_64/arch-defs.h common/json.h common/log.h restore/restore.h \
 image/chain.h image/tree.h image/stub-abi.h
cmd/cmd.h:
inspect/inspect.h:
image/check.h:
image/image.h:
image/format.h:
image/mac.h:
image/key.h:
image/sha256.h:
image/model.h:
arch/arch.h:
arch/x86_64/arch-defs.h:
common/json.h:
common/log.h:
restore/restore.h:
image/chain.h:
image/tree.h:
image/stub-abi.h:
