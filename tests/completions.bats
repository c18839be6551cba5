#!/usr/bin/env bats
# completions/: every command of ckpt --help and every option of ckpt help
# CMD is completed, by bash (run for real) and zsh (read); a command or
# option added to the table in cmd/main.c but not here fails these tests.

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
	! has_word - <<<"$output"
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

@test "completions: bash offers every option of every command, and the global ones" {
	missing=$(unoffered bash_offers)
	echo "not completed by completions/ckpt.bash:$missing"
	[ -z "$missing" ]
}

@test "completions: zsh knows every option of every command, and the global ones" {
	missing=$(unoffered zsh_offers)
	echo "not in completions/_ckpt:$missing"
	[ -z "$missing" ]
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
	! grep -qvE '^[0-9]+$' <<<"$output"
}

@test "completions: global options before the command do not hide it" {
	run complete ckpt -v dump --no-
	[ "$output" = --no-sync ]
}

@test "completions: zsh parses completions/_ckpt" {
	command -v zsh >/dev/null || skip "zsh is not installed"
	zsh -n "$CKPT_TOP/completions/_ckpt"
}
