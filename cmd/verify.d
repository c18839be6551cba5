/work/wt/int-robust/cmd/verify.o: cmd/verify.c cmd/cmd.h common/json.h \
 common/log.h image/check.h image/image.h image/format.h image/mac.h \
 image/key.h image/sha256.h image/model.h arch/arch.h \
 arch/x86_64/arch-defs.h
cmd/cmd.h:
common/json.h:
common/log.h:
image/check.h:
image/image.h:
image/format.h:
image/mac.h:
image/key.h:
image/sha256.h:
image/model.h:
arch/arch.h:
arch/x86_64/arch-defs.h:
