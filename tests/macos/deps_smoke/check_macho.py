#!/usr/bin/env python3
"""Checks a Mach-O executable without a Mac: its CPU, its minimum macOS (LC_BUILD_VERSION) and
the dylibs it loads (LC_LOAD_DYLIB), so that a wrong triple or a library from the wrong place
fails the build.

  check_macho.py FILE --arch arm64|x86_64 --minos 14.0 [--dylib /usr/lib/libcurl.4.dylib]...
"""
import argparse
import struct
import sys

CPU = {0x0100000C: "arm64", 0x01000007: "x86_64"}
LC_LOAD_DYLIB, LC_LOAD_WEAK_DYLIB, LC_BUILD_VERSION, LC_VERSION_MIN_MACOSX = (
    0xC, 0x80000018, 0x32, 0x24)


def version(v):
    return f"{v >> 16}.{(v >> 8) & 0xFF}"


def read(path):
    data = open(path, "rb").read()
    magic, cputype, _, _, ncmds, _, _ = struct.unpack_from("<7I", data, 0)
    if magic != 0xFEEDFACF:
        sys.exit(f"{path}: not a 64-bit little-endian Mach-O file (magic {magic:#x})")
    off, minos, dylibs = 32, None, []
    for _ in range(ncmds):
        cmd, size = struct.unpack_from("<2I", data, off)
        if cmd in (LC_LOAD_DYLIB, LC_LOAD_WEAK_DYLIB):
            name_off = struct.unpack_from("<I", data, off + 8)[0]
            dylibs.append(data[off + name_off:off + size].split(b"\0")[0].decode())
        elif cmd == LC_BUILD_VERSION:
            minos = version(struct.unpack_from("<I", data, off + 12)[0])
        elif cmd == LC_VERSION_MIN_MACOSX:
            minos = version(struct.unpack_from("<I", data, off + 8)[0])
        off += size
    return CPU.get(cputype, hex(cputype)), minos, dylibs


def main():
    p = argparse.ArgumentParser()
    p.add_argument("file")
    p.add_argument("--arch", required=True)
    p.add_argument("--minos", required=True)
    p.add_argument("--dylib", action="append", default=[])
    a = p.parse_args()
    arch, minos, dylibs = read(a.file)
    want_minos = version(int(a.minos.split(".")[0]) << 16 | int(a.minos.split(".")[1]) << 8)
    print(f"{a.file}: {arch}, minimum macOS {minos}, loads {' '.join(dylibs)}")
    errors = []
    if arch != a.arch:
        errors.append(f"CPU {arch}, not {a.arch}")
    if minos != want_minos:
        errors.append(f"minimum macOS {minos}, not {want_minos}")
    for d in a.dylib:
        if d not in dylibs:
            errors.append(f"does not load {d}")
    # Only system libraries: everything else must be linked statically.
    for d in dylibs:
        if not d.startswith(("/usr/lib/", "/System/Library/")):
            errors.append(f"loads {d}, which is not on every Mac")
    if errors:
        sys.exit(f"{a.file}: " + "; ".join(errors))


if __name__ == "__main__":
    main()
