#!/bin/bash
# make -j2 of a small C project (issue 12): N source files, each F
# functions long enough that cc1 takes a while on it, linked into a
# program that prints the sum of what every function returns.  make, its
# shells, gcc drivers, cc1 and as are the tree; $CKPT_READY once the first
# object exists and compilers are still at work, so a dump takes them
# mid-build.  After restore the build must finish, every object right:
# the program's sum, and the objects' checksum against a build of the
# same sources in DIR/ref made beforehand without interruption.
# Usage: make.sh DIR [N] [F]
dir=$1 n=${2:-8} f=${3:-300}
mkdir -p "$dir/src" "$dir/ref"
for ((k = 1; k <= n; k++)); do
	{
		for ((i = 1; i <= f; i++)); do
			echo "int f${k}_$i(int x) { int s = x; for (int j = 0; j < $i % 13 + 2; j++) s = s * 31 + j * $k; return (s ^ $i) % 1000 + $i; }"
		done
		echo "long part$k(void) { long s = 0;"
		for ((i = 1; i <= f; i++)); do
			echo "s += f${k}_$i($i);"
		done
		echo "return s; }"
	} >"$dir/src/p$k.c"
done
{
	echo '#include <stdio.h>'
	for ((k = 1; k <= n; k++)); do echo "long part$k(void);"; done
	echo 'int main(void) { long s = 0;'
	for ((k = 1; k <= n; k++)); do echo "s += part$k();"; done
	echo 'printf("sum %ld\n", s); return 0; }'
} >"$dir/src/main.c"
objs=$(for ((k = 1; k <= n; k++)); do printf 'p%d.o ' "$k"; done)
cat >"$dir/src/Makefile" <<EOF
prog: main.o $objs
	gcc -o \$@ \$^
%.o: %.c
	gcc -O2 -c -o \$@ \$<
EOF
cp "$dir/src/"* "$dir/ref/"
make -s -C "$dir/ref" >/dev/null || exit 1
make -s -j2 -C "$dir/src" >"$dir/make.out" 2>&1 &
m=$!
while ! ls "$dir/src/"p*.o >/dev/null 2>&1; do
	sleep 0.02
done
[ -z "$CKPT_READY" ] || : >"$CKPT_READY"
wait "$m" || { echo "make: exit status $?" >&2; cat "$dir/make.out" >&2; exit 1; }
"$dir/src/prog"
for o in main.o $objs; do
	cmp -s "$dir/src/$o" "$dir/ref/$o" || echo "$o differs from the reference build"
done
