/work/wt/int-robust/cmd/inspect.o: cmd/inspect.c cmd/cmd.h common/log.h \
 inspect/inspect.h image/check.h image/image.h image/format.h image/mac.h \
 image/key.h image/sha256.h image/model.h arch/arch.h \
 arch/x86_64/arch-defs.h
cmd/cmd.h:
common/log.h:
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
