"""Independent reference for plugsniff's mDNS reader and generator.

Uses python-zeroconf (pip `zeroconf`, the library Home Assistant and
SonoffLAN use for mDNS): `DNSIncoming` parses packets, `DNSOutgoing` +
`ServiceInfo` build them with zeroconf's own name compression.

stdin: {"parse": [hex, ...]} or {"build": [{service, instance, server, port,
        address, txt: {k: v}}, ...]}
stdout: for "parse", one list per packet of [name, type, ttl, value]
        (PTR: alias; SRV: "port server"; TXT: [strings]; A: dotted quad);
        for "build", [hex, ...].
"""
import json
import socket
import sys

from zeroconf import DNSOutgoing, ServiceInfo
from zeroconf._protocol.incoming import DNSIncoming

FLAGS_RESPONSE = 0x8400


def txt_strings(raw):
    out, i = [], 0
    while i < len(raw):
        n = raw[i]
        out.append(raw[i + 1 : i + 1 + n].decode("utf-8", "replace"))
        i += 1 + n
    return out


def value(r):
    t = type(r).__name__
    if t == "DNSPointer":
        return r.alias.rstrip(".")
    if t == "DNSService":
        return f"{r.port} {r.server.rstrip('.')}"
    if t == "DNSText":
        return txt_strings(r.text)
    if t == "DNSAddress":
        return socket.inet_ntop(socket.AF_INET if len(r.address) == 4 else socket.AF_INET6, r.address)
    return None


req = json.load(sys.stdin)
if "parse" in req:
    res = []
    for h in req["parse"]:
        msg = DNSIncoming(bytes.fromhex(h))
        if not msg.valid:
            res.append(None)
            continue
        res.append([[r.name.rstrip("."), r.type, r.ttl, value(r)] for r in msg.answers()])
    print(json.dumps(res))
else:
    out = []
    for s in req["build"]:
        info = ServiceInfo(
            s["service"] + ".local.",
            f"{s['instance']}.{s['service']}.local.",
            addresses=[socket.inet_aton(s["address"])],
            port=s["port"],
            properties=s["txt"],
            server=s["server"] + ".local.",
        )
        o = DNSOutgoing(FLAGS_RESPONSE)
        o.add_answer_at_time(info.dns_pointer(), 0)
        o.add_additional_answer(info.dns_service())
        o.add_additional_answer(info.dns_text())
        for a in info.dns_addresses():
            o.add_additional_answer(a)
        out.extend(p.hex() for p in o.packets())
    print(json.dumps(out))
