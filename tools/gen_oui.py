#!/usr/bin/env python3
"""Prints the vendor arrays of src/flows/oui.rs from Wireshark's `manuf` file.

Usage: python3 tools/gen_oui.py [/usr/share/wireshark/manuf] > /tmp/arrays.rs
then paste the arrays over those in src/flows/oui.rs. `manuf` is the IEEE
registry as compiled by Wireshark (Debian/Ubuntu package `libwireshark-data`).
Only 24-bit (MA-L) blocks of universal unicast addresses are taken, of organisations whose long name
(case-insensitive) is listed below or starts with a listed prefix (`*`).
"""
import sys

VENDORS = [
    ("TP_LINK", ["tp-link technologies co.,ltd.", "tp-link corporation limited",
                 "tp-link corporation pte. ltd.", "tp-link systems inc."]),
    ("APPLE", ["apple, inc."]),
    ("SAMSUNG", ["samsung electronics*", "samsung electro-mechanics*",
                 "samsung electro mechanics*"]),
    ("GOOGLE", ["google, inc."]),
    ("AMAZON", ["amazon technologies inc.", "amazon.com, llc"]),
    ("ESPRESSIF", ["espressif inc."]),
    ("RASPBERRY_PI", ["raspberry pi*"]),
    ("INTEL", ["intel corporate", "intel corporation"]),
]


def matches(name, pats):
    n = name.strip().lower()
    return any(n.startswith(p[:-1]) if p.endswith("*") else n == p for p in pats)


path = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/wireshark/manuf"
rows = []
for line in open(path, encoding="utf-8", errors="replace"):
    f = line.rstrip("\n").split("\t")
    if line.startswith("#") or len(f) < 3 or len(f[0]) != 8:
        continue  # comments, and MA-M/MA-S blocks (XX:XX:XX:X0:00:00/28)
    rows.append((int(f[0].replace(":", ""), 16), f[2]))
for const, pats in VENDORS:
    # A block with the I/G or U/L bit set (a few exist) can never be reported:
    # vendor() answers group and locally administered addresses first.
    ouis = sorted({o for o, name in rows if matches(name, pats) and not (o >> 16) & 0x03})
    print(f"const {const}: &[u32] = &[")
    for i in range(0, len(ouis), 8):
        print("    " + " ".join(f"0x{o:06x}," for o in ouis[i:i + 8]))
    print("];")
