/work/wt/int-robust/cmd/check.o: cmd/check.c check/check.h cmd/cmd.h \
 common/json.h common/log.h
check/check.h:
cmd/cmd.h:
common/json.h:
common/log.h:
