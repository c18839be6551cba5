/work/wt/int-robust/cmd/main.o: cmd/main.c cmd/cmd.h common/log.h \
 common/util.h
cmd/cmd.h:
common/log.h:
common/util.h:
