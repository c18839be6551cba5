/work/wt/int-robust/cmd/run.o: cmd/run.c cmd/cmd.h common/log.h \
 common/util.h run/run.h
cmd/cmd.h:
common/log.h:
common/util.h:
run/run.h:
