#!/usr/bin/env bats
# docs/image-format.md against image/format.h (tools/format-doc.py): every
# struct's table and every constant, so that the document cannot drift.
#
# Arch-independent (docs/image-format.md against image/format.h): the host
# runs it; the arm64 guest leaves this file out (tests/run-checks.sh).
# bats file_tags=arch-independent

load test_helper

skip_unless_checker() {
	command -v python3 >/dev/null || skip "no python3 here (the arm64 guest): the host's suite checks the document"
	[ -f "$CKPT_TOP/tools/format-doc.py" ] || skip "no tools/ here (the arm64 guest stages tests/ only)"
}

@test "docs/image-format.md agrees with image/format.h" {
	skip_unless_checker
	run python3 "$CKPT_TOP/tools/format-doc.py"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "format-doc: a new field, struct and constant are each named with the row to add" {
	skip_unless_checker
	mkdir -p "$T/tree"
	cp -R "$CKPT_TOP/tools" "$CKPT_TOP/image" "$CKPT_TOP/docs" "$T/tree/"
	python3 - "$T/tree/image/format.h" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
s = s.replace("\tuint64_t reserved[2];\t/* zero */\n};\nstatic_assert(sizeof(struct ckpt_attrs)",
              "\tuint16_t extra;\t/* a new field */\n\tuint8_t  reserved[14];\n};\nstatic_assert(sizeof(struct ckpt_attrs)", 1)
s = s.replace("\tCKPT_SEC_PAGES    = 16,", "\tCKPT_SEC_NEW      = 9,\t/* struct ckpt_new */\n\tCKPT_SEC_PAGES    = 16,", 1)
s = s.replace("/* CKPT_SEC_END: the last section. */",
              "struct ckpt_new {\n\tuint64_t a;\t/* the a */\n};\n"
              "static_assert(sizeof(struct ckpt_new) == 8, \"ckpt_new size\");\n\n"
              "/* CKPT_SEC_END: the last section. */", 1)
open(p, "w").write(s)
PY
	run python3 "$T/tree/tools/format-doc.py"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"after row 8: add  | 32 | 2 | u16 | \`extra\` | a new field |"* ]]
	[[ "$output" == *"row 9, \`reserved\`: should be offset 34, size 14, type u8[14]"* ]]
	[[ "$output" == *"has no table for struct ckpt_new"*"| 0 | 8 | u64 | \`a\` | the a |"* ]]
	[[ "$output" == *"constant CKPT_SEC_NEW = 9 is missing from the table of constants CKPT_SEC_*"* ]]
	# --fix rewrites the struct's rows; the new struct and constant stay
	# to be written where they belong.
	run python3 "$T/tree/tools/format-doc.py" --fix
	[ "$status" -eq 1 ]
	[[ "$output" != *"ckpt_attrs"* ]]
	grep -q '^| 32 | 2 | u16 | `extra` | a new field |$' "$T/tree/docs/image-format.md"
}
