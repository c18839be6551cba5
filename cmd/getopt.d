/work/wt/int-robust/cmd/getopt.o: cmd/getopt.c cmd/cmd.h common/json.h \
 common/log.h common/util.h
cmd/cmd.h:
common/json.h:
common/log.h:
common/util.h:
