#!/usr/bin/env python3
"""Fails if an ISA translation unit of the kernels library defines a weak symbol
that other translation units may define too.

    check_isa_symbols.py path/to/libkernels.a

Inline functions and template instances are emitted as weak (COMDAT) symbols in
every object that uses them, and the linker keeps one copy for the whole program.
If an object compiled with -mavx512f (or AMX, AVX512-BF16 ...) emits, say,
std::vector<float>::~vector, the program may end up calling that copy from
anywhere, and then executes AVX-512 instructions on a CPU without them (SIGILL).
So every weak symbol of an ISA object must be ISA-specific by name: a template
instantiated over the ISA's own types (VecAvx512, ...), which no other object
can define. Objects count as ISA objects by file name (avx2, avx512, amx, bf16
except the portable scalar variant). Only code counts (nm's W): weak data (V,
u: an inline constexpr table, the personality routine's reference) is the same
bytes whichever object the linker keeps, and executes nothing.

Run on the release library (ctest) and on the asan one (scripts/run_tests.sh):
an unoptimised build leaves far more uninlined, which is why the ISA objects
are compiled with -O2 in every build type (kernels/CMakeLists.txt).
"""
import re
import subprocess
import sys

ISA_OBJECT = re.compile(r"(avx2|avx512|amx|bf16)", re.IGNORECASE)
PORTABLE_OBJECT = re.compile(r"(scalar|_ref|variants)")
ISA_SPECIFIC_NAME = re.compile(r"(Avx2|Avx512|Amx|Bf16Avx|Avx512Bf16)")
WEAK_CODE = {"W"}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = subprocess.run(["nm", "-A", "-C", "--defined-only", sys.argv[1]], check=True, capture_output=True,
                         text=True).stdout
    bad, isa_objects = [], set()
    for line in out.splitlines():
        # "lib.a:member.o:0000000000000000 W symbol"
        m = re.match(r"^[^:]*:([^:]+):\s*[0-9a-fA-F]*\s+(\S)\s+(.*)$", line)
        if not m:
            continue
        member, kind, name = m.groups()
        if not ISA_OBJECT.search(member) or PORTABLE_OBJECT.search(member):
            continue
        isa_objects.add(member)
        if kind in WEAK_CODE and not ISA_SPECIFIC_NAME.search(name):
            bad.append(f"{member}: {kind} {name}")
    if not isa_objects:
        sys.exit("check_isa_symbols: no ISA object found in " + sys.argv[1])
    if bad:
        print("weak symbols in ISA objects that other objects may define too (the linker may keep the ISA copy):")
        print("\n".join("  " + b for b in sorted(set(bad))))
        sys.exit(1)
    print(f"{len(isa_objects)} ISA objects: no shared weak symbols")


if __name__ == "__main__":
    main()
