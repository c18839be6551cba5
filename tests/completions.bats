#!/usr/bin/env bats
# The command table of cmd/main.c against what documents and completes it:
# every command of ckpt --help and every option of ckpt help CMD is
# explained in that help text, has its entry in the man page ckpt.1 (and
# ckpt.1 documents no other), and is completed by bash (run for real) and
# zsh (read).  A command or option added to the table and not everywhere
# fails these tests, with a message saying what to add where.
#
# Arch-independent (the command table against help, man page and completions):
# the host runs it; the arm64 guest leaves this file out
# (tests/run-checks.sh).
# bats file_tags=arch-independent

load test_helper

BASH_COMP=/usr/share/bash-completion/bash_completion

# The commands, as ckpt --help lists them ("  NAME  summary" lines).
commands() {
	"$CKPT" --help | awk '/^commands:/ { f = 1; next } f && !NF { exit } f { print $1 }'
}

# Option names (-x, --xyz) in a help text on stdin: in the synopsis and
# the option lines; "ckpt-PID.img" or "- for stdin" are no options.
option_names() {
	grep -oE '(^|[][[:space:]|])--?[A-Za-z][A-Za-z0-9-]*' | sed -E 's/^[^-]+//' | sort -u
}

global_options() {
	"$CKPT" --help | awk '/^options:/ { f = 1; next } f && !NF { exit } f' | option_names
}

options_of() {
	"$CKPT" help "$1" | option_names
}

# complete WORD...: what completions/ckpt.bash offers for the command line
# WORD... (the last word is the one being completed, "" for a new one),
# one candidate a line.  With bash-completion's helpers when installed,
# else with minimal stand-ins for the three the script uses.
complete() {
	local helpers=$BASH_COMP
	[ -r "$helpers" ] || helpers=/dev/null
	bash --norc --noprofile -c '
		source "$1" >/dev/null 2>&1
		if ! declare -F _init_completion >/dev/null; then
			_init_completion() {
				words=("${COMP_WORDS[@]}") cword=$COMP_CWORD
				cur=${words[cword]} prev=${words[cword - 1]}
			}
			_filedir() { COMPREPLY=($(compgen -f -- "$cur")); }
			_pids() { COMPREPLY=($(compgen -W "$(ps axo pid=)" -- "$cur")); }
		fi
		source "$2" || exit 1
		shift 2
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"
		COMP_POINT=${#COMP_LINE}
		_ckpt ckpt "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}"
	' complete "$helpers" "$CKPT_TOP/completions/ckpt.bash" "$@"
}

# zsh_block CMD: the _arguments of CMD's case in completions/_ckpt (or the
# global ones for ""), without exclusion lists and descriptions, so that
# an option named only in "(--stop)" or "[...]" does not count.
zsh_block() {
	if [ -z "$1" ]; then
		sed -n '/_arguments -C/,/->args/p' "$CKPT_TOP/completions/_ckpt"
	else
		awk -v c="$1" '$1 == c ")" { f = 1 } f { print } f && /;;/ { exit }' \
			"$CKPT_TOP/completions/_ckpt"
	fi | sed -E 's/\([^)]*\)//g; s/\[[^]]*\]//g'
}

# has_word WORD: is WORD one of the lines on stdin?
has_word() {
	grep -qxF -- "$1"
}

# What each completion offers after "ckpt CMD -" (after "ckpt -" for "").
bash_offers() {
	complete ckpt ${1:+"$1"} -
}

zsh_offers() {
	zsh_block "$1" | grep -oE -- '--?[A-Za-z][A-Za-z0-9-]*'
}

# unoffered OFFERS: " CMD:OPTION" for each option of each command, and
# " OPTION" for each global one, that "OFFERS CMD" does not list.
unoffered() {
	local c o got
	for c in $(commands) ""; do
		got=$("$1" "$c")
		for o in $(if [ -n "$c" ]; then options_of "$c"; else global_options; fi); do
			has_word "$o" <<<"$got" || printf ' %s%s' "${c:+$c:}" "$o"
		done
	done
}

@test "completions: the parsers find the commands and options of ckpt help" {
	run commands
	for c in dump restore check help; do
		has_word "$c" <<<"$output"
	done
	run options_of dump
	has_word -o <<<"$output"
	has_word --kill <<<"$output"
	run global_options
	has_word --verbose <<<"$output"
	! has_word - <<<"$output" || false
}

@test "completions: bash offers every command, after ckpt and after ckpt help" {
	local c missing=""
	top=$(complete ckpt "")
	help=$(complete ckpt help "")
	for c in $(commands); do
		has_word "$c" <<<"$top" || missing+=" $c"
		has_word "$c" <<<"$help" || missing+=" help:$c"
	done
	echo "not completed by completions/ckpt.bash:$missing"
	[ -z "$missing" ]
}

@test "completions: zsh describes every command" {
	local c missing=""
	for c in $(commands); do
		grep -qE "^[[:space:]]*'$c:" "$CKPT_TOP/completions/_ckpt" || missing+=" $c"
	done
	echo "not in the cmds array of completions/_ckpt:$missing"
	[ -z "$missing" ]
}

# how_to_add SHELL " CMD:OPTION...": what to write where, a line each.
how_to_add() {
	local w c o
	for w in $2; do
		c=${w%%:*} o=${w#*:}
		[ "$c" = "$w" ] && c=""
		case $1/${c:+cmd} in
		bash/cmd) echo "  $c $o: add \"$o\" to the option words of the $c) case in completions/ckpt.bash" ;;
		bash/) echo "  $o: add \"$o\" to the words offered before a command (\$cmds ...) in completions/ckpt.bash" ;;
		zsh/cmd) echo "  $c $o: add a line '$o[what it does]' \\ to the _arguments of the $c) case in completions/_ckpt" ;;
		zsh/) echo "  $o: add a line '$o[what it does]' \\ to the _arguments -C of completions/_ckpt" ;;
		esac
	done
}

@test "completions: bash offers every option of every command, and the global ones" {
	missing=$(unoffered bash_offers)
	echo "not completed by completions/ckpt.bash:$missing"
	how_to_add bash "$missing"
	[ -z "$missing" ]
}

@test "completions: zsh knows every option of every command, and the global ones" {
	missing=$(unoffered zsh_offers)
	echo "not in completions/_ckpt:$missing"
	how_to_add zsh "$missing"
	[ -z "$missing" ]
}

MAN=$CKPT_TOP/ckpt.1

# man_section CMD: the section .SS "ckpt CMD ..." of ckpt.1, up to the next.
man_section() {
	awk -v c="$1" '/^\.S[SH] / { f = index($0, ".SS \"ckpt " c " ") == 1 || $0 == ".SS \"ckpt " c "\""; next } f' "$MAN"
}

# man_options CMD: the options in the .TP entries of its section.
man_options() {
	man_section "$1" | awk 'tp { print; tp = 0 } /^\.TP/ { tp = 1 }' |
		sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' | option_names
}

# explained CMD: the options ckpt help CMD has a line for ("  -o, --output FILE  ...").
explained() {
	"$CKPT" help "$1" | grep -E '^ {2,}--?[A-Za-z]' |
		sed -E 's/^ +((-[A-Za-z], )?--?[A-Za-z][A-Za-z0-9-]*).*/\1/' | option_names
}

@test "help: ckpt help CMD explains every option it names, for every command" {
	local c o missing=""
	for c in $(commands); do
		ex=$(explained "$c")
		for o in $(options_of "$c"); do
			has_word "$o" <<<"$ex" || missing+=" $c:$o"
		done
	done
	for w in $missing; do
		echo "ckpt help ${w%%:*} names ${w#*:} but has no line explaining it: add to the ${w%%:*} entry of cmds[] in cmd/main.c a line \"      ${w#*:} ...  what it does\""
	done
	[ -z "$missing" ]
}

@test "man: ckpt.1 has a section for every command" {
	local c missing=""
	for c in $(commands); do
		grep -qE "^\.SS \"ckpt $c( |\")" "$MAN" || missing+=" $c"
	done
	for c in $missing; do
		echo "ckpt.1 has no section for ckpt $c: add under .SH COMMANDS a section .SS \"ckpt $c ...\" that says what it does, with a .TP entry for each option of ckpt help $c"
	done
	[ -z "$missing" ]
}

@test "man: ckpt.1 documents every option of every command, and no other" {
	local c o missing="" extra=""
	for c in $(commands); do
		in_man=$(man_options "$c")
		in_help=$(options_of "$c")
		for o in $in_help; do
			has_word "$o" <<<"$in_man" || missing+=" $c:$o"
		done
		for o in $in_man; do
			has_word "$o" <<<"$in_help" || extra+=" $c:$o"
		done
	done
	for w in $missing; do
		c=${w%%:*} o=${w#*:}
		echo "ckpt help $c lists $o (cmd/main.c) but ckpt.1 does not: add to ckpt.1, in the section .SS \"ckpt $c ...\", an entry"
		echo "    .TP"
		echo "    .B $(sed 's/-/\\-/g' <<<"$o")"
		echo "    What it does."
	done
	for w in $extra; do
		echo "ckpt.1 documents ${w#*:} for ckpt ${w%%:*}, which ckpt help ${w%%:*} does not list: add it to the ${w%%:*} entry of cmds[] in cmd/main.c, or remove it from ckpt.1"
	done
	[ -z "$missing$extra" ]
}

@test "man: ckpt.1 documents the common options, the exit statuses and ckpt run's 85" {
	for o in --verbose --quiet --help --version; do
		grep -qF -- "$(sed 's/-/\\-/g' <<<"$o")" "$MAN"
	done
	for s in "EXIT STATUS" ENVIRONMENT FILES EXAMPLES SLURM; do
		grep -q "^\.SH $s" "$MAN"
	done
	grep -q '^\.B 85$' "$MAN"
}

@test "man: man ./ckpt.1 renders without a warning" {
	command -v groff >/dev/null || skip "groff is not installed"
	run groff -man -ww -z "$MAN"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	command -v man >/dev/null || skip "man is not installed"
	MANWIDTH=80 man -l "$MAN" | grep -q "ckpt run \[options\] -- COMMAND"
}

@test "man: make install puts ckpt.1 into MANDIR/man1" {
	command -v make >/dev/null || skip "make is not installed"
	make -s -C "$CKPT_TOP" install O="$(dirname "$CKPT")" DESTDIR="$T/root" PREFIX=/usr
	cmp "$MAN" "$T/root/usr/share/man/man1/ckpt.1"
	make -s -C "$CKPT_TOP" uninstall O="$(dirname "$CKPT")" DESTDIR="$T/root" PREFIX=/usr
	[ ! -e "$T/root/usr/share/man/man1/ckpt.1" ]
}

@test "completions: ckpt d<TAB> completes to dump" {
	run complete ckpt d
	[ "$status" -eq 0 ]
	[ "$output" = dump ]
}

@test "completions: ckpt dump --k<TAB> completes to --kill" {
	run complete ckpt dump --k
	[ "$status" -eq 0 ]
	[ "$output" = --kill ]
}

@test "completions: ckpt dump <TAB> offers PIDs, ours among them" {
	[ -r "$BASH_COMP" ] || skip "bash-completion is not installed ($BASH_COMP)"
	run complete ckpt dump ""
	[ "$status" -eq 0 ]
	has_word "$$" <<<"$output"
	! grep -qvE '^[0-9]+$' <<<"$output" || false
}

@test "completions: global options before the command do not hide it" {
	run complete ckpt -v dump --no-s
	[ "$output" = --no-sync ]
}

@test "completions: zsh parses completions/_ckpt" {
	command -v zsh >/dev/null || skip "zsh is not installed"
	zsh -n "$CKPT_TOP/completions/_ckpt"
}
