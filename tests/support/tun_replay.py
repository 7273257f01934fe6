#!/usr/bin/env python3
"""Replays a radiotap capture through a TUN device whose link type is radiotap.

Usage: tun_replay.py [--tap | --arphrd N] [--pause-at N] IFNAME CAPTURE [SECONDS]

With SECONDS, the capture is replayed in a loop, as fast as the device takes
it, for that long (soak test).

With --tap, IFNAME is a TAP device instead (Ethernet, DLT 1, no packet-info
header) and CAPTURE an Ethernet capture, written frame by frame as it is; IPv6
is disabled on it first so the kernel sends nothing of its own that a capture
would see. With --arphrd N, the TUN device gets link type N instead of 803
(a link type plugsniff does not read, to see it refused).

Creates IFNAME as a TUN device *with* the 4-byte packet-info header (not
IFF_NO_PI), sets its link type to ARPHRD_IEEE80211_RADIOTAP (803) with
TUNSETLINK while it is down, brings it up, prints "ready", waits for a line on
stdin, then writes every frame as 00 00 00 04 + frame (flags 0, proto
ETH_P_802_2): libpcap on IFNAME then sees DLT 127 frames exactly as from a
monitor-mode card. Prints "done N" and waits for stdin to close.

With --pause-at N, it stops after the first N frames, prints "paused N" and
waits for another line on stdin before writing the rest (a test then changes
the world mid-capture: stops a broker, scrapes metrics). The frame before
the pause and the last frame are then written 50 ms late: plugsniff's capture
thread sends a partial batch when a frame arrives 20 ms or more after the
batch began, so no frame waits in it while the replay is quiet.
"""
import fcntl
import os
import struct
import subprocess
import sys
import time

TUNSETIFF = 0x400454CA
TUNSETLINK = 0x400454CD
IFF_TUN = 0x0001
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
ARPHRD_IEEE80211_RADIOTAP = 803


def frames(path):
    data = open(path, "rb").read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4"):
        e = "<" if magic == b"\xd4\xc3\xb2\xa1" else ">"
        off = 24
        while off + 16 <= len(data):
            _, _, incl, _ = struct.unpack(e + "IIII", data[off:off + 16])
            yield data[off + 16:off + 16 + incl]
            off += 16 + incl
    elif magic == b"\x0a\x0d\x0d\x0a":
        e = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
        off = 0
        while off + 12 <= len(data):
            btype, blen = struct.unpack(e + "II", data[off:off + 8])
            if blen < 12:
                break
            if btype == 6:  # Enhanced Packet Block
                caplen = struct.unpack(e + "I", data[off + 20:off + 24])[0]
                yield data[off + 28:off + 28 + caplen]
            off += blen
    else:
        raise SystemExit("not a pcap/pcapng file: " + path)


def main():
    args = sys.argv[1:]
    tap = False
    arphrd = ARPHRD_IEEE80211_RADIOTAP
    pause_at = None
    while args and args[0].startswith("--"):
        if args[0] == "--tap":
            tap = True
            args = args[1:]
        elif args[0] == "--arphrd":
            arphrd = int(args[1])
            args = args[2:]
        elif args[0] == "--pause-at":
            pause_at = int(args[1])
            args = args[2:]
        else:
            raise SystemExit("unknown flag " + args[0])
    sys.argv = [sys.argv[0]] + args
    name, path = args[0], args[1]
    fd = os.open("/dev/net/tun", os.O_RDWR)
    if tap:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
        try:
            with open("/proc/sys/net/ipv6/conf/%s/disable_ipv6" % name, "w") as f:
                f.write("1")
        except OSError:
            pass  # no IPv6 in this kernel: nothing to silence
    else:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN))
        fcntl.ioctl(fd, TUNSETLINK, arphrd)
    # TUN frames carry a packet-info header: flags 0, proto ETH_P_802_2.
    prefix = b"" if tap else b"\x00\x00\x00\x04"
    subprocess.check_call(["ip", "link", "set", name, "up"])
    print("ready", flush=True)
    sys.stdin.readline()
    n = 0
    if len(sys.argv) > 3:
        all_frames = [prefix + f for f in frames(path)]
        end = time.time() + float(sys.argv[3])
        while time.time() < end:
            for f in all_frames:
                try:
                    os.write(fd, f)
                    n += 1
                except OSError:
                    time.sleep(0.0005)
    else:
        all_frames = list(frames(path))
        for f in all_frames:
            if pause_at is not None and n == pause_at:
                print("paused %d" % n, flush=True)
                sys.stdin.readline()
            if pause_at is not None and n in (pause_at - 1, len(all_frames) - 1):
                time.sleep(0.05)
            os.write(fd, prefix + f)
            n += 1
            if n % 16 == 0:
                time.sleep(0.002)
    print("done %d" % n, flush=True)
    sys.stdin.read()
    os.close(fd)


if __name__ == "__main__":
    main()
