#!/usr/bin/env python3
"""No promise without code: every function the public headers declare is defined somewhere.

  scripts/check_api.py [BUILD_DIR]            (default build/dev)
  scripts/check_api.py --library LIB -I DIR...

A function or member function declared in include/appose/*.hpp and not defined there must be
defined by the built library, or a user's program that calls it fails to link, long after the
header promised it. The compiler never notices: a declaration alone compiles. This script asks
clang (clang++-14, or $APPOSE_CLANG) for the declarations of a translation unit including every
public header (-ast-dump=json, which gives each function's mangled name), keeps those located
in include/appose/ that have no definition in the headers (bodiless, not deleted, defaulted or
pure, not a template), and looks each mangled name up among the symbols the library defines
(nm --defined-only; nm -D for a shared library). It prints every missing one with its header's
file:line and fails.

Exit status: 0 all defined; 1 some missing; 2 usage or tool error; 77 clang or nm missing (ctest
treats 77 as a skip; CI runs the script directly, with clang installed by scripts/deps.sh ci).

Templates are left out: their definitions must be in the headers, and an explicit
instantiation's set of arguments is not something a declaration states. Only declarations
whose qualified name mentions `appose` are dumped (clang's -ast-dump-filter; a full dump of the
standard library is a gigabyte): the whole public API lives in namespace appose.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIP = 77

FUNCTION_KINDS = {"FunctionDecl", "CXXMethodDecl", "CXXConstructorDecl", "CXXDestructorDecl",
                  "CXXConversionDecl"}
# Declarations inside these are templated (or implicit instantiations of templates, whose
# members clang declares without bodies until used): their definitions live in the headers.
TEMPLATE_KINDS = {"FunctionTemplateDecl", "ClassTemplateDecl", "ClassTemplateSpecializationDecl",
                  "ClassTemplatePartialSpecializationDecl", "TypeAliasTemplateDecl",
                  "VarTemplateDecl"}
BODY_KINDS = {"CompoundStmt", "CXXTryStmt"}


def fail_tool(message):
    print(f"check_api: SKIPPED: {message}", file=sys.stderr)
    sys.exit(SKIP)


def read_dumps(text):
    """The filtered dump is one JSON document per matching declaration, one after the other."""
    decoder = json.JSONDecoder()
    i, n = 0, len(text)
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            return
        node, i = decoder.raw_decode(text, i)
        yield node


class Walker:
    """Collects function declarations in document order.

    clang writes a location's file and line only when they differ from the previous location
    it wrote, so locations are resolved by replaying them in the order they were written
    (each document starts afresh). An "includedFrom" object names another file without
    changing the current one, so it is not replayed.
    """

    def __init__(self):
        self.declared = []  # (mangled, file, line, name)
        self.defined = set()

    def walk_document(self, node):
        self.file, self.line = None, None
        self.visit(node, in_template=False)

    def location(self, loc):
        """Replays one location (bare, or spelling + expansion); returns the place it names."""
        if "expansionLoc" in loc or "spellingLoc" in loc:
            place = None
            for key in ("spellingLoc", "expansionLoc"):
                if key in loc:
                    place = self.location(loc[key])
            return place  # the expansion: where the macro was used
        if "file" in loc:
            self.file = loc["file"]
        if "line" in loc:
            self.line = loc["line"]
        return (self.file, self.line)

    def replay(self, value):
        if isinstance(value, dict):
            if "offset" in value or "spellingLoc" in value or "expansionLoc" in value:
                self.location(value)
                return
            for key, item in value.items():
                if key != "includedFrom":
                    self.replay(item)
        elif isinstance(value, list):
            for item in value:
                self.replay(item)

    def visit(self, node, in_template):
        kind = node.get("kind")
        place = self.location(node["loc"]) if "loc" in node else (self.file, self.line)
        for key, value in node.items():
            if key not in ("loc", "inner"):
                self.replay(value)
        inner = node.get("inner", [])
        if kind in FUNCTION_KINDS and "mangledName" in node:
            has_body = any(child.get("kind") in BODY_KINDS for child in inner)
            mangled = node["mangledName"]
            if (has_body or node.get("explicitlyDeleted") or node.get("explicitlyDefaulted")
                    or node.get("isImplicit")):
                self.defined.add(mangled)
            elif not in_template and not node.get("pure"):
                self.declared.append((mangled, place[0], place[1], node.get("name", "?")))
        nested = in_template or kind in TEMPLATE_KINDS
        for child in inner:
            if isinstance(child, dict):
                self.visit(child, nested)


def clang_declarations(clang, headers, include_dirs, defines):
    source = "".join(f"#include <appose/{os.path.basename(h)}>\n" for h in headers)
    with tempfile.TemporaryDirectory() as tmp:
        tu = os.path.join(tmp, "public_api.cpp")
        with open(tu, "w", encoding="utf-8") as f:
            f.write(source)
        command = [clang, "-std=c++20", "-fsyntax-only", "-Xclang", "-ast-dump=json",
                   "-Xclang", "-ast-dump-filter=appose"]
        command += [f"-I{d}" for d in include_dirs] + [f"-D{d}" for d in defines] + [tu]
        run = subprocess.run(command, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        print(f"check_api: clang could not compile the public headers:\n{run.stderr}",
              file=sys.stderr)
        sys.exit(2)
    walker = Walker()
    for document in read_dumps(run.stdout):
        walker.walk_document(document)
    return walker


def library_symbols(nm, library):
    command = [nm, "--defined-only", "-P"]
    if ".so" in os.path.basename(library):
        command.append("-D")
    run = subprocess.run(command + [library], capture_output=True, text=True, check=False)
    if run.returncode != 0:
        print(f"check_api: {' '.join(command)} {library} failed:\n{run.stderr}", file=sys.stderr)
        sys.exit(2)
    symbols = set()
    for line in run.stdout.splitlines():
        parts = line.split()
        # "name type value size"; an archive adds "member.o:" lines. Code with external
        # linkage only: a local symbol does not satisfy a user's reference.
        if len(parts) >= 2 and parts[1] in ("T", "W", "i", "u"):
            symbols.add(parts[0])
    return symbols


# clang names a constructor by its complete-object variant (C1) and a destructor by D1; GCC may
# emit only the base-object variant (C2/D2) when the two are the same code, or an alias.
STRUCTOR = re.compile(r"(?<=[0-9A-Za-z_])(C[123]|D[012])(?=E|I)")


def variants(mangled):
    out = {mangled}
    for m in STRUCTOR.finditer(mangled):
        family = ("C1", "C2", "C3") if m.group(1)[0] == "C" else ("D0", "D1", "D2")
        for other in family:
            out.add(mangled[:m.start()] + other + mangled[m.end():])
    return out


def demangle(names):
    filt = shutil.which("c++filt")
    if not filt or not names:
        return dict(zip(names, names))
    run = subprocess.run([filt], input="\n".join(names), capture_output=True, text=True,
                         check=False)
    lines = run.stdout.splitlines()
    return dict(zip(names, lines)) if len(lines) == len(names) else dict(zip(names, names))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("build_dir", nargs="?", default=os.path.join(ROOT, "build", "dev"),
                        help="a configured and built build tree (default build/dev)")
    parser.add_argument("--library", help="libappose.a or libappose.so (default: BUILD_DIR/src/)")
    parser.add_argument("-I", dest="include_dirs", action="append", default=[],
                        help="include directories (default: include/ and BUILD_DIR/include)")
    parser.add_argument("--clang", default=os.environ.get("APPOSE_CLANG", "clang++-14"))
    parser.add_argument("--nm", default="nm")
    args = parser.parse_args()

    clang = shutil.which(args.clang)
    if clang is None:
        fail_tool(f"{args.clang} not found (scripts/deps.sh ci installs clang-14)")
    nm = shutil.which(args.nm)
    if nm is None:
        fail_tool(f"{args.nm} not found (binutils)")

    library = args.library
    if library is None:
        for name in ("libappose.a", "libappose.so"):
            candidate = os.path.join(args.build_dir, "src", name)
            if os.path.exists(candidate):
                library = candidate
                break
    if library is None or not os.path.exists(library):
        print(f"check_api: no built library ({library or args.build_dir + '/src/libappose.*'}); "
              "build first", file=sys.stderr)
        return 2
    include_dirs = args.include_dirs or [os.path.join(ROOT, "include"),
                                         os.path.join(args.build_dir, "include")]
    public_dir = os.path.join(ROOT, "include", "appose")
    headers = sorted(os.path.join(public_dir, h) for h in os.listdir(public_dir)
                     if h.endswith(".hpp"))
    # The generated export.hpp lives in the build tree; the static define only matters there.
    defines = ["APPOSE_STATIC_DEFINE"] if library.endswith(".a") else []

    walker = clang_declarations(clang, headers, include_dirs, defines)
    symbols = library_symbols(nm, library)

    shown = os.path.relpath(library, ROOT)
    if shown.startswith(".."):
        shown = library  # outside the tree: as given
    public_real = os.path.realpath(public_dir) + os.sep
    missing, checked, seen = [], 0, set()
    for mangled, file, line, name in walker.declared:
        if file is None or not os.path.realpath(file).startswith(public_real):
            continue  # declared elsewhere (a generated header, the standard library)
        if mangled in walker.defined or mangled in seen:
            continue
        seen.add(mangled)
        checked += 1
        if not variants(mangled) & symbols:
            missing.append((mangled, os.path.relpath(file, ROOT), line, name))

    if checked == 0:
        print("check_api: no declaration found in include/appose/: the check itself is broken",
              file=sys.stderr)
        return 2
    if missing:
        pretty = demangle([m[0] for m in missing])
        print(f"check_api: {len(missing)} function(s) declared in include/appose/ but defined "
              f"nowhere ({shown} does not define them); a program "
              "calling one fails to link. Define each in src/, or drop the declaration:",
              file=sys.stderr)
        for mangled, file, line, _ in missing:
            print(f"  {file}:{line}: {pretty[mangled]}   [{mangled}]", file=sys.stderr)
        return 1
    print(f"check_api: all {checked} functions declared in include/appose/ without a body there "
          f"are defined by {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
