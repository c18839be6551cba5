#!/usr/bin/env python3
"""
docs/image-format.md against image/format.h: every struct's table (field,
offset, size, type, in order, and the struct's size) and every constant
(name and value) of format.h must be in the document, and nothing else.

    tools/format-doc.py            check; exit 1 with what to change
    tools/format-doc.py --fix      rewrite the offset, size, type and field
                                   columns of the struct tables from
                                   format.h (rows for new fields get the
                                   field's comment as meaning; a table or
                                   a constant row that is missing is only
                                   printed: where it goes is for you)

How the document marks what it documents (so that prose stays free):

    `struct ckpt_thread`, 240 bytes:        a line of its own, then the
                                            table (offset, size, type,
    | offset | size | type | field | meaning |       field, meaning)

    Constants `CKPT_VMA_*`:                 a line starting so, then a
                                            table with a `value` and a
    | value | name | meaning |              `name` column; names are
                                            written without the prefix

Offsets come from the declarations with C's natural alignment; a struct
with implicit padding is an error (format.h promises none), and when a C
compiler is there the offsets are checked with offsetof() too.  make check
runs this (tests/format-doc.bats).
"""
import codecs
import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HDR = "image/format.h"
DOC = "docs/image-format.md"

CTYPES = {
    "uint8_t": ("u8", 1), "uint16_t": ("u16", 2), "uint32_t": ("u32", 4),
    "uint64_t": ("u64", 8), "int8_t": ("i8", 1), "int16_t": ("i16", 2),
    "int32_t": ("i32", 4), "int64_t": ("i64", 8), "char": ("char", 1),
}

HEX = set()		# constants written as bits: shown in hex
STRUCT_MARK = re.compile(r"^`struct (ckpt_\w+)`, (\d+) bytes:\s*$")
CONST_MARK = re.compile(r"^Constants `(CKPT_[A-Z0-9_]*)\*`")


class Field:
    def __init__(self, name, typ, size, align, line, comment):
        self.name, self.typ, self.size, self.align = name, typ, size, align
        self.line, self.comment, self.offset = line, comment, 0


class Struct:
    def __init__(self, name, line):
        self.name, self.line, self.fields = name, line, []
        self.size, self.align, self.declared = 0, 1, None


# ---------------------------------------------------------------- format.h

def strip_comments(text):
    """The text with comments blanked (line numbers kept), and per line
    the comment that starts on it."""
    out, comments, i = [], {}, 0
    while i < len(text):
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = len(text) if j < 0 else j + 2
            line = text.count("\n", 0, i) + 1
            body = text[i + 2:j - 2]
            body = " ".join(s.strip().lstrip("*").strip() for s in body.split("\n"))
            comments[line] = " ".join(body.split())
            out.append("".join("\n" if c == "\n" else " " for c in text[i:j]))
            i = j
        else:
            out.append(text[i])
            i += 1
    return "".join(out), comments


def c_eval(expr, consts):
    """The value of a constant expression of format.h."""
    e = re.sub(r"\b(0x[0-9a-fA-F]+|\d+)[uUlL]+\b", r"\1", expr.strip())
    e = re.sub(r"\b(CKPT_\w+)\b", lambda m: str(consts[m.group(1)]), e)
    if not re.fullmatch(r"[0-9a-fA-Fx\s()|&<>+*~-]*", e):
        raise ValueError(expr)
    return eval(e, {"__builtins__": {}})  # digits and operators only


def c_string(expr):
    """The bytes of adjacent C string literals."""
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"', expr)
    return codecs.escape_decode("".join(parts).encode())[0]


def parse_header(path):
    raw = open(path).read()
    text, comments = strip_comments(raw)
    consts, order, structs, sizes = {}, [], {}, {}
    lineof = lambda pos: text.count("\n", 0, pos) + 1

    for m in re.finditer(r"^#define\s+(CKPT_\w+)(\([^)]*\))?[ \t]+(.*)$", text, re.M):
        name, args, val = m.group(1), m.group(2), m.group(3).strip()
        line = lineof(m.start())
        if args:
            consts[name] = None
            order.append((name + args, line, comments.get(line, ""), val))
        elif val.startswith('"'):
            consts[name] = c_string(val)
            order.append((name, line, comments.get(line, ""), None))
        else:
            consts[name] = c_eval(val, consts)
            if re.search(r"<<|0x|\|", val):
                HEX.add(name)
            order.append((name, line, comments.get(line, ""), None))
    for m in re.finditer(r"\benum\s+\w+\s*\{([^}]*)\}", text):
        base = lineof(m.start(1))
        for k, item in enumerate(m.group(1).split(",")):
            im = re.match(r"\s*(CKPT_\w+)\s*=\s*([^,]+?)\s*$", item, re.S)
            if not im:
                if item.strip():
                    raise ValueError("enum item without a value: " + item.strip())
                continue
            line = base + m.group(1)[:m.group(1).find(im.group(1))].count("\n")
            consts[im.group(1)] = c_eval(im.group(2), consts)
            order.append((im.group(1), line, comments.get(line, ""), None))
    order.sort(key=lambda o: o[1])

    for m in re.finditer(r"static_assert\(sizeof\(struct (\w+)\) == (\d+)", text):
        sizes[m.group(1)] = int(m.group(2))
    for m in re.finditer(r"^struct (ckpt_\w+)\s*\{", text, re.M):
        s = Struct(m.group(1), lineof(m.start()))
        body_start = m.end()
        depth, i = 1, body_start
        while depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        parse_body(s, text, body_start, i - 1, comments, consts, structs, lineof)
        s.declared = sizes.get(s.name)
        structs[s.name] = s
    return consts, order, structs


def array_dims(decl, consts):
    dims = re.findall(r"\[([^\]]*)\]", decl)
    return [c_eval(d, consts) for d in dims]


def parse_body(s, text, start, end, comments, consts, structs, lineof):
    """Declarations between start and end, each ending at a ';' at depth 0."""
    depth, i, decl_start = 0, start, start
    while i < end:
        c = text[i]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == ";" and depth == 0:
            add_decl(s, text[decl_start:i], lineof(i), comments, consts, structs)
            decl_start = i + 1
        i += 1
    off = 0
    for f in s.fields:
        pad = -off % f.align
        if pad:
            raise ValueError("struct %s: %d bytes of implicit padding before %s (%s:%d)" %
                             (s.name, pad, f.name, HDR, f.line))
        f.offset = off
        off += f.size
        s.align = max(s.align, f.align)
    if off % s.align:
        raise ValueError("struct %s: implicit padding at its end" % s.name)
    s.size = off


def add_decl(s, decl, line, comments, consts, structs):
    decl = " ".join(decl.split())
    comment = comments.get(line, "")
    m = re.match(r"struct \{(.*)\}\s*(.*)$", decl)
    if m:			# an anonymous struct: { u64 cur, max }[16]
        inner = Struct("", line)
        for part in m.group(1).split(";"):
            if part.strip():
                add_decl(inner, part, line, {}, consts, structs)
        off = 0
        for f in inner.fields:
            f.offset, off = off, off + f.size
        inner.align = max(f.align for f in inner.fields)
        ctype = "{%s %s}" % (inner.fields[0].typ, ", ".join(f.name for f in inner.fields))
        size, align, names = off, inner.align, m.group(2)
    else:
        m = re.match(r"(struct \w+|\w+)\s+(.*)$", decl)
        if not m:
            raise ValueError("%s:%d: cannot read the declaration '%s'" % (HDR, line, decl))
        base, names = m.group(1), m.group(2)
        if base.startswith("struct "):
            sub = structs[base.split()[1]]
            ctype, size, align = base, sub.size, sub.align
        elif base in CTYPES:
            ctype, size = CTYPES[base]
            align = size
        else:
            raise ValueError("%s:%d: unknown type %s" % (HDR, line, base))
    for name in names.split(","):
        name = name.strip()
        dims = array_dims(name, consts)
        bare = re.sub(r"\[.*", "", name).strip()
        n = 1
        for d in dims:
            n *= d
        typ = ctype + "".join("[%d]" % d for d in dims)
        s.fields.append(Field(bare, typ, size * n, align, line, comment))


def check_offsets_with_cc(structs):
    """offsetof() and sizeof() of every field, by the C compiler, when
    there is one: the parser above must agree with it."""
    cc = os.environ.get("CC", "cc")
    if not shutil.which(cc):
        return []
    lines = ['#include <stddef.h>', '#include "image/format.h"']
    for s in structs.values():
        lines.append('_Static_assert(sizeof(struct %s) == %d, "%s size");' %
                     (s.name, s.size, s.name))
        for f in s.fields:
            lines.append('_Static_assert(offsetof(struct %s, %s) == %d, "%s.%s offset");' %
                         (s.name, f.name, f.offset, s.name, f.name))
    with tempfile.NamedTemporaryFile("w", suffix=".c", delete=False) as t:
        t.write("\n".join(lines) + "\n")
    try:
        p = subprocess.run([cc, "-std=gnu11", "-fsyntax-only", "-I", TOP, t.name],
                           capture_output=True, text=True)
    finally:
        os.unlink(t.name)
    if p.returncode:
        return ["tools/format-doc.py reads %s differently from %s:\n%s" %
                (HDR, cc, p.stderr.strip())]
    return []


# ---------------------------------------------------------------- the doc

def split_row(line):
    cells = line.strip()
    if not (cells.startswith("|") and cells.endswith("|")):
        return None
    # A "\|" inside a cell is a literal bar.
    parts = re.split(r"(?<!\\)\|", cells[1:-1])
    return [p.strip() for p in parts]


def read_table(lines, i):
    """The table starting at or after line i (a paragraph of prose may
    come first, not a heading): its first line index, header cells and
    rows [(line index, cells)]."""
    while (i < len(lines) and split_row(lines[i]) is None and not lines[i].startswith("#") and
           not STRUCT_MARK.match(lines[i]) and not CONST_MARK.match(lines[i])):
        i += 1
    if i >= len(lines) or split_row(lines[i]) is None:
        return None
    start, head = i, split_row(lines[i])
    rows, i = [], i + 2
    while i < len(lines) and split_row(lines[i]) is not None:
        rows.append((i, split_row(lines[i])))
        i += 1
    return start, head, rows


def unquote(cell):
    return cell.replace("`", "").strip()


def doc_type(cell):
    return re.sub(r"\s+", " ", unquote(cell)).replace("{ ", "{").replace(" }", "}")


def parse_doc(path):
    lines = open(path).read().split("\n")
    tables, consts = {}, []
    for i, line in enumerate(lines):
        m = STRUCT_MARK.match(line)
        if m:
            t = read_table(lines, i + 1)
            tables[m.group(1)] = (i, int(m.group(2)), t)
        m = CONST_MARK.match(line)
        if m:
            consts.append((i, m.group(1), read_table(lines, i + 1)))
    return lines, tables, consts


# ---------------------------------------------------------------- checks

def meaning_of(f):
    return (f.comment or "TODO: what it is").replace("|", "\\|")


def row_for(f):
    return "| %d | %d | %s | `%s` | %s |" % (f.offset, f.size, f.typ, f.name, meaning_of(f))


def table_for(s):
    out = ["`struct %s`, %d bytes:" % (s.name, s.size), "",
           "| offset | size | type | field | meaning |",
           "| ---: | ---: | --- | --- | --- |"]
    return out + [row_for(f) for f in s.fields]


def check_struct(s, entry, errs):
    where = "%s:%d" % (HDR, s.line)
    if s.declared is not None and s.declared != s.size:
        errs.append("%s: struct %s adds up to %d bytes, its static_assert says %d" %
                    (where, s.name, s.size, s.declared))
    if entry is None:
        errs.append("%s has no table for struct %s (%s, %d bytes).  Add it where its section "
                    "is described, for example:\n\n%s\n" %
                    (DOC, s.name, where, s.size, "\n".join(table_for(s))))
        return False
    mark, size, t = entry
    ok = True
    if size != s.size:
        errs.append("%s:%d: struct %s is %d bytes, not %d: the line should read\n  `struct %s`, %d bytes:" %
                    (DOC, mark + 1, s.name, s.size, size, s.name, s.size))
        ok = False
    if t is None:
        errs.append("%s:%d: no table after the line for struct %s" % (DOC, mark + 1, s.name))
        return False
    start, head, rows = t
    want = ["offset", "size", "type", "field"]
    if [h.lower() for h in head[:4]] != want:
        errs.append("%s:%d: the table of struct %s must start with the columns %s" %
                    (DOC, start + 1, s.name, ", ".join(want)))
        return False
    got = [(unquote(r[0]), unquote(r[1]), doc_type(r[2]), unquote(r[3])) for _, r in rows]
    exp = [(str(f.offset), str(f.size), f.typ, f.name) for f in s.fields]
    if got != exp:
        ok = False
        msg = ["%s:%d: the table of struct %s (%s) does not match format.h:" %
               (DOC, start + 1, s.name, where)]
        sm = difflib.SequenceMatcher(a=[g[3] for g in got], b=[e[3] for e in exp], autojunk=False)
        for op, i1, i2, j1, j2 in sm.get_opcodes():
            if op == "equal":
                for k, j in zip(range(i1, i2), range(j1, j2)):
                    if got[k] != exp[j]:
                        msg.append("  row %d, `%s`: should be offset %s, size %s, type %s "
                                   "(the doc says %s, %s, %s)" %
                                   ((k + 1, exp[j][3]) + exp[j][:3] + got[k][:3]))
                continue
            for k in range(i1, i2):
                msg.append("  row %d: remove `%s` (not in format.h here)" % (k + 1, got[k][3]))
            for j in range(j1, j2):
                msg.append("  after row %d: add  %s" % (i1, row_for(s.fields[j])))
        msg.append("  tools/format-doc.py --fix rewrites these columns from format.h")
        errs.append("\n".join(msg))
    return ok


def fmt_value(v, name=""):
    if isinstance(v, bytes):
        return " ".join("%02x" % b for b in v)
    return hex(v) if name in HEX else str(v)


def doc_value(cell):
    c = unquote(cell)
    if re.fullmatch(r"([0-9a-f]{2} )+[0-9a-f]{2}", c):
        return bytes(int(b, 16) for b in c.split())
    m = re.match(r"(0x[0-9a-fA-F]+|\d+)", c)
    return int(m.group(1), 0) if m else c


def check_consts(order, consts, groups, errs):
    rows, heads = {}, {}
    prefixes = sorted((g[1] for g in groups), key=len, reverse=True)
    for mark, prefix, t in groups:
        if t is None:
            errs.append("%s:%d: no table after the line for constants %s*" % (DOC, mark + 1, prefix))
            continue
        start, head, trs = t
        h = [x.lower() for x in head]
        if "value" not in h or "name" not in h:
            errs.append("%s:%d: the table of constants %s* needs a `value` and a `name` column" %
                        (DOC, start + 1, prefix))
            continue
        vi, ni = h.index("value"), h.index("name")
        heads.setdefault(prefix, (start, h))
        for li, r in trs:
            name = re.sub(r"\(.*", "", unquote(r[ni]))
            full = name if name.startswith("CKPT_") else prefix + name
            rows.setdefault(full, []).append((li, r[vi], prefix, head))
    for name, line, comment, macro in order:
        key = re.sub(r"\(.*", "", name)
        if key == "CKPT_IMAGE_FORMAT_H":
            continue
        group = next((p for p in prefixes if key.startswith(p)), None)
        have = rows.pop(key, None)
        val = consts[key]
        if have is None:
            shown = macro if macro is not None else fmt_value(val, key)
            own = re.sub(r"[^_]*$", "", key)	# CKPT_HDR_MAC: CKPT_HDR_
            if group is None or group == "CKPT_":
                errs.append("%s:%d: constant %s = %s is in no table of %s.  If it starts a group "
                            "of its own, add a table where the field it goes in is described:"
                            "\n\nConstants `%s*`, the bits of `FIELD`:\n\n| value | name | meaning |\n"
                            "| ---: | --- | --- |\n| %s | `%s` | %s |\n\n(or add it to a table of "
                            "constants `CKPT_*`, for those that belong to no group)" %
                            (HDR, line, name, shown, DOC, own, shown, name[len(own):],
                             (comment or "TODO: what it means").replace("|", "\\|")))
            else:
                start, h = heads[group]
                cells = [(comment or "TODO: what it means").replace("|", "\\|")] * len(h)
                cells[h.index("value")] = shown
                cells[h.index("name")] = "`%s`" % name[len(group):]
                errs.append("%s:%d: constant %s = %s is missing from the table of constants %s* "
                            "(%s:%d); add the row\n  | %s |" %
                            (HDR, line, name, shown, group, DOC, start + 1, " | ".join(cells)))
            continue
        if len(have) > 1:
            errs.append("%s: constant %s is listed %d times (lines %s)" %
                        (DOC, key, len(have), ", ".join(str(h[0] + 1) for h in have)))
        li, cell, prefix, _ = have[0]
        if macro is None and doc_value(cell) != val:
            errs.append("%s:%d: constant %s is %s in format.h (%s:%d), the doc says %s" %
                        (DOC, li + 1, key, fmt_value(val, key), HDR, line, unquote(cell)))
    for name, have in rows.items():
        errs.append("%s:%d: constant %s is not in %s: remove the row" % (DOC, have[0][0] + 1, name, HDR))


def fix_table(lines, s, t):
    """Rewrite the first four columns of struct s's table, keeping the
    meaning of each field by name."""
    start, head, rows = t
    meaning = {unquote(r[3]): r[4:] for _, r in rows if len(r) > 3}
    ncols = len(head)
    new = []
    for f in s.fields:
        rest = meaning.get(f.name) or [meaning_of(f)] + [""] * (ncols - 5)
        cells = [str(f.offset), str(f.size), f.typ, "`%s`" % f.name] + list(rest)
        new.append("| " + " | ".join(cells) + " |")
    first = rows[0][0] if rows else start + 2
    last = rows[-1][0] + 1 if rows else start + 2
    lines[first:last] = new


def main():
    fix = "--fix" in sys.argv[1:]
    os.chdir(TOP)
    try:
        consts, order, structs = parse_header(HDR)
    except (ValueError, KeyError, SyntaxError) as e:
        print("tools/format-doc.py: cannot read %s: %s" % (HDR, e), file=sys.stderr)
        return 1
    errs = check_offsets_with_cc(structs)
    lines, tables, groups = parse_doc(DOC)
    m = re.search(r"^# .*version (\d+)", "\n".join(lines), re.M)
    if not m or int(m.group(1)) != consts["CKPT_VERSION"]:
        errs.append("%s:1: the title should say version %d (CKPT_VERSION)" % (DOC, consts["CKPT_VERSION"]))
    if fix:
        # Bottom up: line numbers above stay valid.
        for name, (mark, size, t) in sorted(tables.items(), key=lambda e: -e[1][0]):
            if name in structs and t is not None:
                fix_table(lines, structs[name], t)
                lines[mark] = "`struct %s`, %d bytes:" % (name, structs[name].size)
        open(DOC, "w").write("\n".join(lines))
        lines, tables, groups = parse_doc(DOC)
    for name, s in structs.items():
        check_struct(s, tables.pop(name, None), errs)
    for name, (mark, _, _) in tables.items():
        errs.append("%s:%d: struct %s is not in %s: remove its table" % (DOC, mark + 1, name, HDR))
    check_consts(order, consts, groups, errs)
    for e in errs:
        print(e, file=sys.stderr)
    if errs:
        print("\n%d difference(s) between %s and %s (tools/format-doc.py explains the markup)" %
              (len(errs), DOC, HDR), file=sys.stderr)
        return 1
    print("%s agrees with %s: %d structs, %d constants" % (DOC, HDR, len(structs), len(order) - 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
