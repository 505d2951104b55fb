#!/usr/bin/env python3
"""Extracts every C++ block of the Markdown pages into a test program (docs/testing.md,
"Doc snippets").

    extract_snippets.py --root SRC --out DIR PAGE.md...

Writes DIR/<id>.cpp for each ```cpp block and DIR/snippets.cmake, which calls
appose_docs_snippet() once per block. Files are rewritten only when their text changes, so a
configure run after a prose edit recompiles nothing.

A block is compiled as it is when it defines `int main(`; otherwise it is a fragment, placed in
a generated main() (its #include lines hoisted to the top). An HTML comment right before the
block says what the block needs:

    <!-- snippet: KEY[=VALUE] ...
    hidden C++ run before the block (declares what the prose takes as given)
    -->

and one right after it adds hidden checks run after the block:

    <!-- snippet-check
    APPOSE_DOCS_EXPECT(y == 42);
    -->

Keys: name=ID, compile-only why="...", venv[=PLACEHOLDER], java-lib[=PLACEHOLDER],
exe=PLACEHOLDER:ID, network. A PLACEHOLDER is text inside a string literal of the block that
stands for a path on the reader's machine; in the test program it becomes the real path.
"""

import argparse
import os
import re
import shlex
import sys

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\s]*)")
CPP_INFO = {"cpp", "c++", "cxx"}
MARKER_START = "<!-- snippet:"
CHECK_START = "<!-- snippet-check"
MAIN_RE = re.compile(r"\bint\s+main\s*\(")
INCLUDE_RE = re.compile(r"^\s*#\s*include\b")
KEYS = {"name", "compile-only", "why", "venv", "java-lib", "exe", "network", "main"}
# What a fragment without #include lines sees, besides the library.
FRAGMENT_STD_HEADERS = ["algorithm", "cstdint", "cstdio", "filesystem", "map", "numeric",
                        "span", "string", "vector"]


class SnippetError(Exception):
    pass


def c_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def cmake_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


def comment_before(lines, fence_index):
    """The `<!-- snippet: ... -->` comment ending on the last non-blank line before the fence:
    (first line index, key text, hidden lines), or None."""
    i = fence_index - 1
    while i >= 0 and not lines[i].strip():
        i -= 1
    if i < 0 or not lines[i].rstrip().endswith("-->"):
        return None
    end = i
    while i >= 0 and "<!--" not in lines[i]:
        i -= 1
    if i < 0 or not lines[i].lstrip().startswith(MARKER_START):
        return None
    body = [lines[i].lstrip()[len(MARKER_START):]] + lines[i + 1:end + 1]
    body[-1] = body[-1].rstrip()[:-3]
    return i, body[0].strip(), body[1:]


def comment_after(lines, close_index):
    """The hidden lines of a `<!-- snippet-check ... -->` comment right after the block."""
    i = close_index + 1
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i >= len(lines) or not lines[i].lstrip().startswith(CHECK_START):
        return None
    start = i
    body = [lines[i].lstrip()[len(CHECK_START):]]
    while "-->" not in lines[i]:
        i += 1
        if i >= len(lines):
            raise SnippetError(f"line {start + 1}: snippet-check comment never closed")
        body.append(lines[i])
    body[-1] = body[-1][:body[-1].index("-->")]
    return (start + 1, body) if any(b.strip() for b in body) else None


def parse_keys(text, where):
    keys = {}
    try:
        tokens = shlex.split(text)
    except ValueError as e:
        raise SnippetError(f"{where}: snippet marker: {e}")
    for token in tokens:
        key, _, value = token.partition("=")
        if key not in KEYS:
            raise SnippetError(f"{where}: unknown snippet key '{key}' (known: "
                               f"{', '.join(sorted(KEYS))}; see docs/testing.md)")
        if key == "exe":
            keys.setdefault("exe", []).append(value)
        else:
            keys[key] = value
    if "compile-only" in keys and not keys.get("why"):
        raise SnippetError(f"{where}: compile-only needs why=\"...\": what this machine lacks")
    return keys


def blocks(path):
    """Yields (fence line number, code lines, keys, hidden prologue, check) for each C++ block."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, indent, info = m.group("fence"), m.group("indent"), m.group("info").lower()
        j = i + 1
        while j < len(lines):
            c = FENCE.match(lines[j])
            if c and c.group("fence")[0] == fence[0] and len(c.group("fence")) >= len(fence) \
                    and not c.group("info"):
                break
            j += 1
        if info in CPP_INFO:
            code = [l[len(indent):] if l.startswith(indent) else l.lstrip() for l in lines[i + 1:j]]
            marker = comment_before(lines, i)
            where = f"{path}:{i + 1}"
            keys = parse_keys(marker[1], where) if marker else {}
            prologue = (marker[0] + 2, marker[2]) if marker and any(
                l.strip() for l in marker[2]) else None
            yield i + 1, code, keys, prologue, comment_after(lines, j)
        i = j + 1


def line_directive(number, path):
    return f"#line {number} {c_string(path)}"


def substitute(code, keys, exe_macros):
    """Turns each placeholder (inside a string literal) into a macro holding the real path:
    "/path/to/venv/bin" becomes "" APPOSE_DOCS_VENV "/bin", still one string literal."""
    subs = []
    if keys.get("venv"):
        subs.append((keys["venv"], "APPOSE_DOCS_VENV"))
    if keys.get("java-lib"):
        subs.append((keys["java-lib"], "APPOSE_DOCS_JAVA_LIB"))
    subs += exe_macros
    out = []
    for line in code:
        for placeholder, macro in subs:
            line = line.replace(placeholder, f'" {macro} "')
        out.append(line)
    return out


def generate(page_abs, rel, line, code, keys, prologue, check, exe_macros):
    code = substitute(code, keys, exe_macros)
    head = [f"// Generated from {rel}:{line} by tests/docs/extract_snippets.py: edit the page."]
    if MAIN_RE.search("\n".join(code)):
        if prologue or check:
            raise SnippetError(f"{rel}:{line}: a whole program takes no hidden code")
        return "\n".join(head + [line_directive(line + 1, page_abs)] + code) + "\n"
    includes, body = [], []
    for n, text in enumerate(code):
        if INCLUDE_RE.match(text):
            includes += [line_directive(line + 1 + n, page_abs), text]
        else:
            body.append((line + 1 + n, text))
    if not includes:
        includes = ["#include <appose/appose.hpp>"] + [f"#include <{h}>" for h in
                                                        FRAGMENT_STD_HEADERS]
    out = head + includes + ['#include "snippet_support.hpp"', "", "int main() {"]
    if "venv" in keys:
        out.append('  if (int rc = appose_docs::require_peer("appose-python", APPOSE_DOCS_VENV '
                   '"/bin/python"); rc >= 0) return rc;')
    if "network" in keys:  # CMake points APPOSE_UV at the peers' uv
        out.append('  if (int rc = appose_docs::require_peer("uv", APPOSE_DOCS_VENV "/bin/uv"); '
                   'rc >= 0) return rc;')
    if "java-lib" in keys:
        out.append('  if (int rc = appose_docs::require_peer("appose-java", '
                   'APPOSE_DOCS_JAVA_LIB); rc >= 0) return rc;')
    out.append("  try {")
    if prologue:
        out.append(line_directive(prologue[0], page_abs))
        out += substitute(prologue[1], keys, exe_macros)
    # Each line keeps its own number: hoisted includes leave gaps a single #line would misplace.
    out.append(line_directive(body[0][0], page_abs) if body else "")
    previous = body[0][0] - 1 if body else 0
    for number, text in body:
        if number != previous + 1:
            out.append(line_directive(number, page_abs))
        out.append(text)
        previous = number
    if check:
        out.append(line_directive(check[0], page_abs))
        out += substitute(check[1], keys, exe_macros)
    out += ["  } catch (const std::exception& e) {",
            f"    return appose_docs::threw({c_string(f'{rel}:{line}')}, e);",
            "  }", "  return 0;", "}"]
    return "\n".join(out) + "\n"


def write_if_changed(path, text):
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return
    except FileNotFoundError:
        pass
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("pages", nargs="+")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    found = []  # (id, page_abs, rel, line, code, keys, prologue, check)
    names, stems = {}, set()
    for page in sorted(args.pages):
        page_abs = os.path.abspath(page)
        rel = os.path.relpath(page_abs, args.root)
        stem = re.sub(r"[^A-Za-z0-9]+", "_", os.path.splitext(rel)[0]).strip("_").lower()
        # docs/values.md is "values"; docs/README.md stays "docs_readme" beside README.md's.
        short = stem[len("docs_"):] if stem.startswith("docs_") else stem
        stem = stem if short in stems else short
        stems.add(stem)
        for index, (line, code, keys, prologue, check) in enumerate(blocks(page_abs), 1):
            ident = f"{stem}_{index}"
            if "name" in keys:
                if keys["name"] in names:
                    raise SnippetError(f"{rel}:{line}: name={keys['name']} used twice")
                names[keys["name"]] = ident
            found.append((ident, page_abs, rel, line, code, keys, prologue, check))

    cmake = ["# Generated by tests/docs/extract_snippets.py from the Markdown pages: do not edit."]
    for ident, page_abs, rel, line, code, keys, prologue, check in found:
        exe_macros, programs = [], []
        for spec in keys.get("exe", []):
            placeholder, _, name = spec.rpartition(":")
            if not placeholder or name not in names:
                raise SnippetError(f"{rel}:{line}: exe={spec}: want PLACEHOLDER:NAME, NAME given "
                                   f"by name= on another block")
            exe_macros.append((placeholder, f"APPOSE_DOCS_EXE_{names[name]}"))
            programs.append(names[name])
        source = os.path.join(args.out, ident + ".cpp")
        write_if_changed(source, generate(page_abs, rel, line, code, keys, prologue, check,
                                          exe_macros))
        fragment = not MAIN_RE.search("\n".join(code))
        needs = " ".join(k for k in ("venv", "java-lib", "network") if k in keys) or '""'
        programs = " ".join(programs) or '""'
        cmake.append(
            f"appose_docs_snippet({ident} SOURCE {cmake_string(source)} "
            f"WHERE {cmake_string(f'{rel}:{line}')} "
            f"{'FRAGMENT ' if fragment else ''}"
            f"{'COMPILE_ONLY ' if 'compile-only' in keys else ''}"
            f"NEEDS {needs} PROGRAMS {programs})")
    write_if_changed(os.path.join(args.out, "snippets.cmake"), "\n".join(cmake) + "\n")
    print(f"doc snippets: {len(found)} C++ blocks in {len(args.pages)} pages")


if __name__ == "__main__":
    try:
        main()
    except SnippetError as e:
        sys.exit(f"extract_snippets.py: {e}")
