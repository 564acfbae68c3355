#!/usr/bin/env python3
"""mkcpio.py: write a Linux initramfs as a "newc" cpio archive.

    mkcpio.py OUT ENTRY...

ENTRY is one of
    dir:PATH:MODE                  a directory            dir:/dev:0755
    file:PATH:MODE:HOSTFILE        a regular file         file:/init:0755:init
    nod:PATH:MODE:c|b:MAJOR:MINOR  a device node          nod:/dev/console:0600:c:5:1

MODE is octal.  Everything is owned by 0:0 with mtime 0, so the output is
a pure function of the entries (reproducible builds); device nodes need no
privileges, which is why cvisor packs its initramfs itself instead of with
cpio(1).  Format (the kernel's Documentation/driver-api/early-userspace/
buffer-format.rst): per entry a 110-byte header "070701" + 13 eight-digit
hex fields, the NUL-terminated name (without the leading "/"), padding to
4 bytes, the data, padding to 4 bytes; then "TRAILER!!!"; the whole archive
padded with zeros to a multiple of 512 bytes.
"""
import os
import sys

S_IFDIR, S_IFREG, S_IFCHR, S_IFBLK = 0o040000, 0o100000, 0o020000, 0o060000


def pad4(n):
    return (4 - n % 4) % 4


def entry(ino, name, mode, data=b"", nlink=1, rmaj=0, rmin=0):
    """One newc record: header, name, padding, data, padding."""
    nb = name.encode() + b"\0"
    fields = [ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rmaj, rmin,
              len(nb), 0]
    for v in fields:
        if not 0 <= v <= 0xFFFFFFFF:
            raise ValueError(f"{name}: field value {v} does not fit newc")
    hdr = b"070701" + b"".join(b"%08X" % v for v in fields)
    out = hdr + nb + b"\0" * pad4(len(hdr) + len(nb))
    return out + data + b"\0" * pad4(len(data))


def parse(spec):
    """ENTRY string -> (name, mode, data, rdev major, rdev minor, nlink)."""
    parts = spec.split(":")
    kind = parts[0]
    if len(parts) < 3 or not parts[1].startswith("/") or parts[1] == "/":
        raise ValueError(f"bad entry '{spec}': want KIND:/PATH:MODE[:...]")
    name = parts[1].strip("/")
    if any(p in ("", ".", "..") for p in name.split("/")):
        raise ValueError(f"bad path in '{spec}'")
    perm = int(parts[2], 8)
    if perm > 0o7777:
        raise ValueError(f"bad mode in '{spec}'")
    if kind == "dir" and len(parts) == 3:
        return name, S_IFDIR | perm, b"", 0, 0, 2
    if kind == "file" and len(parts) == 4:
        with open(parts[3], "rb") as f:
            return name, S_IFREG | perm, f.read(), 0, 0, 1
    if kind == "nod" and len(parts) == 6 and parts[3] in ("c", "b"):
        t = S_IFCHR if parts[3] == "c" else S_IFBLK
        return name, t | perm, b"", int(parts[4]), int(parts[5]), 1
    raise ValueError(f"bad entry '{spec}'")


def archive(specs):
    """The archive bytes for a list of ENTRY strings."""
    out = bytearray()
    seen = set()
    for ino, spec in enumerate(specs, start=1):
        name, mode, data, rmaj, rmin, nlink = parse(spec)
        if name in seen:
            raise ValueError(f"duplicate path /{name}")
        seen.add(name)
        out += entry(ino, name, mode, data, nlink, rmaj, rmin)
    out += entry(0, "TRAILER!!!", 0, nlink=1)
    out += b"\0" * ((512 - len(out) % 512) % 512)
    return bytes(out)


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    try:
        data = archive(argv[2:])
    except (ValueError, OSError) as e:
        sys.stderr.write(f"mkcpio: {e}\n")
        return 1
    tmp = argv[1] + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
