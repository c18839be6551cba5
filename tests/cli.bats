#!/usr/bin/env bats
# The command line: help, version, usage errors and exit codes.
#
# Arch-independent (command-line parsing and usage text: the same C on both):
# the host runs it; the arm64 guest leaves this file out
# (tests/run-checks.sh).
# bats file_tags=arch-independent

load test_helper

@test "ckpt --version prints the version" {
	run "$CKPT" --version
	[ "$status" -eq 0 ]
	[[ "$output" == "ckpt "[0-9]* ]]
}

@test "ckpt --help lists the commands; exit 0" {
	run "$CKPT" --help
	[ "$status" -eq 0 ]
	[[ "$output" == *dump* && "$output" == *restore* && "$output" == *check* ]]
}

@test "ckpt help dump and ckpt dump -h print the same usage" {
	run "$CKPT" help dump
	[ "$status" -eq 0 ]
	a=$output
	run "$CKPT" dump -h
	[ "$status" -eq 0 ]
	[ "$a" = "$output" ]
	[[ "$a" == "usage: ckpt dump PID"* ]]
}

@test "unknown command: usage error, exit 2" {
	run --separate-stderr "$CKPT" frobnicate
	[ "$status" -eq 2 ]
	[ "$stderr" = 'ckpt: unknown command "frobnicate" (see ckpt --help)' ]
}

@test "dump without PID: usage error, exit 2" {
	run "$CKPT" dump
	[ "$status" -eq 2 ]
}
