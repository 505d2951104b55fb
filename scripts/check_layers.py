#!/usr/bin/env python3
"""The layer check: every #include goes down the layers, never up or sideways.

  scripts/check_layers.py [--root DIR]          check; exit 1 listing each violation
  scripts/check_layers.py --list [--root DIR]   report every violation by rule; exit 0

The layers of src/, lowest first (docs/architecture.md copies this):

    util < platform < core < wire < {host, worker} < environment < envbuild

  util         src/util/          pure code: no OS call, no appose::Value
  platform     src/platform/      every OS call; neutral headers in src/platform/*.hpp, the
                                  implementations in src/platform/<os>/
  core         src/core/          Error, Value, NDArray, SharedMemory, JSON over Value
  wire         src/wire/          protocol messages, shm resolution
  host         src/host/          Service, Task, WorkerObject, ScriptSyntax, Python bootstrap
  worker       src/worker/        the C++ worker SDK
  environment  src/environment/   Environment, launching services
  envbuild     src/envbuild/      builders, schemes, downloads, the tool runner

A public header (include/appose/) belongs to the layer of its concept:

  util         error.hpp, export.hpp, version.hpp
  core         value.hpp, ndarray.hpp, shared_memory.hpp
  wire         protocol.hpp
  host         service.hpp, task.hpp, worker_object.hpp, syntax.hpp
  worker       worker.hpp
  environment  environment.hpp
  envbuild     builder.hpp, scheme.hpp, catalog.hpp
  (top)        appose.hpp, the umbrella: above every layer

The rules (each violation is printed as file:line with the two layers):
  1. A file under src/<layer>/ includes only headers of its own layer and below.
  2. host and worker, side by side, never include each other.
  3. A neutral platform header (src/platform/*.hpp, not its subfolders) includes no OS header.
  4. A file under src/ outside src/platform/ includes no OS header (<unistd.h>, <poll.h>,
     <fcntl.h>, <signal.h>, <sys/...>, <linux/...>, <windows.h>, ...). C++'s own headers
     (<csignal>, <cstdio>, ...) are not OS headers.
  5. tools/, bench/ and examples/ include public headers ("appose/...") and their own files
     only; nothing of src/ (nor tests/).
  6. Every C++ file under src/ is in a layer folder, and every public header has a layer (a
     new one is added to PUBLIC_HEADERS below).

Exit status: 0 no violation (or --list); 1 violations; 2 usage error.
"""

import argparse
import os
import re
import sys
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Rank of each layer; host and worker share theirs and may not include each other.
LAYERS = {
    "util": 0,
    "platform": 1,
    "core": 2,
    "wire": 3,
    "host": 4,
    "worker": 4,
    "environment": 5,
    "envbuild": 6,
}
TOP = "top"
RANKS = dict(LAYERS, **{TOP: 7})
SIBLINGS = {"host", "worker"}

PUBLIC_HEADERS = {
    "error.hpp": "util",
    "export.hpp": "util",
    "version.hpp": "util",
    "value.hpp": "core",
    "ndarray.hpp": "core",
    "shared_memory.hpp": "core",
    "protocol.hpp": "wire",
    "service.hpp": "host",
    "task.hpp": "host",
    "worker_object.hpp": "host",
    "syntax.hpp": "host",
    "worker.hpp": "worker",
    "environment.hpp": "environment",
    "builder.hpp": "envbuild",
    "scheme.hpp": "envbuild",
    "catalog.hpp": "envbuild",
    "appose.hpp": TOP,
}

# Headers of the operating system (POSIX, Linux, macOS, Windows): what only src/platform/'s
# implementations may include. Folders match by prefix; names match whole, case-insensitively
# (Windows.h and windows.h are one file there).
OS_HEADER_DIRS = ("sys/", "linux/", "asm/", "asm-generic/", "mach/", "mach-o/", "arpa/",
                  "netinet/", "net/", "bits/")
OS_HEADERS = {
    "unistd.h", "poll.h", "fcntl.h", "signal.h", "spawn.h", "pthread.h", "dirent.h",
    "dlfcn.h", "termios.h", "pwd.h", "grp.h", "semaphore.h", "sched.h", "syslog.h", "netdb.h",
    "pty.h", "utmp.h", "libgen.h", "glob.h", "fnmatch.h", "wordexp.h", "ftw.h", "aio.h",
    "mqueue.h", "malloc.h", "alloca.h", "execinfo.h", "ifaddrs.h", "crt_externs.h",
    "libproc.h", "copyfile.h", "windows.h", "winsock2.h", "ws2tcpip.h", "winbase.h",
    "winternl.h", "ntstatus.h", "io.h", "direct.h", "process.h", "shlobj.h", "shellapi.h",
    "tlhelp32.h", "psapi.h", "userenv.h", "aclapi.h", "sddl.h", "bcrypt.h", "wincrypt.h",
    "conio.h",
}

# Folders whose programs use the public API only.
CLIENT_DIRS = ("tools", "bench", "examples")

SOURCE_SUFFIXES = (".cpp", ".hpp", ".h", ".cc", ".cxx", ".hh", ".hxx", ".ipp", ".inc")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')

RULES = {
    "layer": "includes a header of a higher layer",
    "siblings": "host and worker include each other",
    "neutral": "a neutral platform header includes an OS header",
    "os": "an OS header outside src/platform/",
    "client": "tools/, bench/, examples/ include something not public nor their own",
    "unplaced": "a file or public header without a layer",
}


class Violation:
    def __init__(self, rule, path, line, message):
        self.rule, self.path, self.line, self.message = rule, path, line, message

    def __str__(self):
        return f"{self.path}:{self.line}: {self.message}"


def is_os_header(name):
    lowered = name.lower()
    return lowered.startswith(OS_HEADER_DIRS) or lowered in OS_HEADERS


def sources(root, top):
    """The C++ files under root/top, as paths relative to root with forward slashes."""
    base = os.path.join(root, top)
    found = []
    for directory, subdirs, files in os.walk(base):
        subdirs.sort()
        for name in sorted(files):
            if name.endswith(SOURCE_SUFFIXES):
                found.append(os.path.relpath(os.path.join(directory, name), root)
                             .replace(os.sep, "/"))
    return found


def includes(root, path):
    """(line number, '<' or '"', header) of each #include of the file."""
    with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
        for number, text in enumerate(f, 1):
            m = INCLUDE.match(text)
            if m:
                yield number, m.group(1), m.group(2).strip()


def header_layer(root, including, header):
    """The layer of a project header as `including` (a src/ file) names it, or None when it is
    not one (the standard library, a third party, a generated file)."""
    if header.startswith("appose/"):
        return PUBLIC_HEADERS.get(header[len("appose/"):], None)
    first = header.split("/", 1)[0]
    if first in LAYERS and os.path.isfile(os.path.join(root, "src", header)):
        return first
    # A name relative to the including file (#include "codec.hpp" from src/wire/).
    beside = os.path.normpath(os.path.join(os.path.dirname(including), header))
    parts = beside.replace(os.sep, "/").split("/")
    if (os.path.isfile(os.path.join(root, beside)) and len(parts) > 2 and parts[0] == "src"
            and parts[1] in LAYERS):
        return parts[1]
    return None


def check_src(root, path):
    parts = path.split("/")
    layer = parts[1] if len(parts) > 2 else None
    if layer not in LAYERS:
        yield Violation("unplaced", path, 1, "not in a layer folder of src/ "
                        f"({', '.join(sorted(LAYERS))})")
        return
    neutral = layer == "platform" and len(parts) == 3 and path.endswith((".hpp", ".h"))
    for line, kind, header in includes(root, path):
        if kind == "<" and is_os_header(header):
            if neutral:
                yield Violation("neutral", path, line,
                                f"platform (neutral header) includes the OS header <{header}>; "
                                "it belongs in src/platform/<os>/")
            elif layer != "platform":
                yield Violation("os", path, line,
                                f"{layer} includes the OS header <{header}>; OS calls belong "
                                "in src/platform/")
            continue
        if header.startswith("appose/") and header[len("appose/"):] not in PUBLIC_HEADERS:
            if os.path.isfile(os.path.join(root, "include", header)):
                yield Violation("unplaced", path, line,
                                f"the public header {header} has no layer in "
                                "scripts/check_layers.py")
            continue
        target = header_layer(root, path, header)
        if target is None or target == layer:
            continue
        if {layer, target} == SIBLINGS:
            yield Violation("siblings", path, line,
                            f"{layer} includes {target} ({header}): host and worker never "
                            "include each other")
        elif RANKS[target] > RANKS[layer]:
            yield Violation("layer", path, line,
                            f"{layer} includes {target} ({header}): {target} is above {layer}")


def check_client(root, path):
    top = path.split("/", 1)[0]
    for line, kind, header in includes(root, path):
        if header.startswith("appose/"):
            continue
        if kind == '"':
            # Beside the including file, or from the folder's root; either way inside it.
            candidates = (os.path.join(os.path.dirname(path), header), os.path.join(top, header))
            for candidate in candidates:
                candidate = os.path.normpath(candidate).replace(os.sep, "/")
                if candidate.startswith(top + "/") and os.path.isfile(os.path.join(root,
                                                                                   candidate)):
                    break
            else:
                yield Violation("client", path, line,
                                f"{top} includes \"{header}\", which is neither a public header "
                                f"(\"appose/...\") nor a file of {top}/")
            continue
        # <...>: the standard library and third parties, unless it names a file of src/.
        if os.path.isfile(os.path.join(root, "src", header)):
            yield Violation("client", path, line,
                            f"{top} includes <{header}>, an internal header of src/")


def check_public_headers(root):
    base = os.path.join(root, "include", "appose")
    if not os.path.isdir(base):
        return
    for name in sorted(os.listdir(base)):
        if name.endswith(".hpp") and name not in PUBLIC_HEADERS:
            yield Violation("unplaced", f"include/appose/{name}", 1,
                            "a public header without a layer: add it to PUBLIC_HEADERS in "
                            "scripts/check_layers.py (and docs/architecture.md)")


def check(root):
    violations = list(check_public_headers(root))
    for path in sources(root, "src"):
        violations.extend(check_src(root, path))
    for top in CLIENT_DIRS:
        for path in sources(root, top):
            violations.extend(check_client(root, path))
    return violations


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=ROOT, help="the repository (default: this one)")
    parser.add_argument("--list", action="store_true",
                        help="report every violation by rule and exit 0")
    args = parser.parse_args(argv)
    if not os.path.isdir(os.path.join(args.root, "src")):
        print(f"check_layers: no src/ under {args.root}", file=sys.stderr)
        return 2
    violations = check(args.root)
    if args.list:
        by_rule = defaultdict(list)
        for v in violations:
            by_rule[v.rule].append(v)
        for rule, what in RULES.items():
            print(f"{what}: {len(by_rule[rule])}")
            for v in by_rule[rule]:
                print(f"  {v}")
        print(f"{len(violations)} violation(s)")
        return 0
    for v in violations:
        print(v)
    if violations:
        print(f"check_layers: {len(violations)} include(s) break the layers "
              "(scripts/check_layers.py says what the layers are)", file=sys.stderr)
        return 1
    print("check_layers: every include goes down the layers")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
