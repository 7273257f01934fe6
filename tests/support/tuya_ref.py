#!/usr/bin/env python3
"""tinytuya as the independent reference for tests/tuya.rs.

Reads one JSON request on stdin, writes one JSON answer on stdout.

  {"op": "check"}
      -> {"tinytuya": "<version>"}; exit status 3 when tinytuya is missing.

  {"op": "read", "version": "3.3", "local_key": "...", "frames": [{"dir": "c2d"|"d2c", "hex": "..."}]}
      tinytuya reads every frame the way its client does: unpack_message()
      (CRC, HMAC or GCM), the session key negotiation steps of XenonDevice
      (_negotiate_session_key_generate_step_3 checks the device's HMAC and
      builds FINISH; _negotiate_session_key_generate_finalize derives the
      session key) and _decode_payload() for the JSON.
      -> {"frames": [{"cmd", "seq", "retcode", "crc_good", "json", "payload"}],
          "session_key": hex or null}

  {"op": "write", "version": "3.3", "local_key": "...", "device_id": "...",
   "local_nonce": hex, "remote_nonce": hex}
      tinytuya writes a plug conversation: the client side with its own
      generate_payload() and _encode_message() (the negotiation included, its
      os.urandom nonce replaced by the fixed one), the device side with
      pack_message() and AESCipher (tinytuya has no device encoder).
      -> {"frames": [{"dir", "hex", "cmd", "seq", "payload": hex,
                      "kind": "json"|"empty"|"negotiation"}], "session_key": hex or null}

  {"op": "udp_read", "datagrams": [hex]}   -> {"json": [str]} via decrypt_udp()
  {"op": "udp_write", "json": str, "ip": str}
      -> {"datagrams": [{"port", "hex"}]}: pack_message() on 6666 (clear),
         6667 (encrypt() with udpkey) and 7000 (6699 with udpkey), and the
         scanner's REQ_DEVINFO app broadcast.
"""

import hashlib
import hmac
import json
import os
import struct
import sys

try:
    import tinytuya
    from tinytuya.core import header as H
    from tinytuya.core.crypto_helper import AESCipher
    from tinytuya.core.message_helper import (
        MessagePayload,
        TuyaMessage,
        pack_message,
        unpack_message,
    )
except ImportError as e:  # pragma: no cover
    print(json.dumps({"error": "tinytuya missing: %s" % e}))
    sys.exit(3)

CT = tinytuya


class FixedRandom:
    """Deterministic os.urandom: the client nonce first, then GCM IVs."""

    def __init__(self, nonce):
        self.nonce = nonce
        self.count = 0

    def __call__(self, n):
        if n == 16 and self.nonce is not None:
            out, self.nonce = self.nonce, None
            return out
        self.count += 1
        return (b"tinytuya-iv-%04d" % self.count)[-n:]


def device(version, key):
    v = float(version)
    # set_version(3.2) would poll the network (detect_available_dps): build
    # as 3.3 and switch the fields by hand, as set_version does.
    d = tinytuya.Device("bf0123456789abcdefgh", address="127.0.0.1",
                        local_key=key, version=3.3 if v == 3.2 else v)
    if v == 3.2:
        d.version = 3.2
        d.version_str = "v3.2"
        d.version_bytes = b"3.2"
        d.version_header = d.version_bytes + H.PROTOCOL_3x_HEADER
        d.dev_type = "device22"
        d.dps_to_request = {"1": None, "9": None, "19": None}
        d.payload_dict = None
    d.disabledetect = True
    return d


def decoded_json(d, payload):
    if not payload:
        return None
    r = d._decode_payload(payload)
    # _decode_payload copies data.dps to the top ("v3.4 stuffs it into
    # {"data":{"dps":...}}"); undo that so the JSON is the one sent.
    if isinstance(r, dict) and isinstance(r.get("data"), dict) \
            and r.get("dps") is not None and r["data"].get("dps") is r["dps"]:
        del r["dps"]
    return r


def read(req):
    d = device(req["version"], req["local_key"])
    real = d.real_local_key
    v = d.version
    out = []
    finish = None
    for fr in req["frames"]:
        data = bytes.fromhex(fr["hex"])
        from_dev = fr["dir"] == "d2c"
        cmd = struct.unpack(">I", data[8:12] if data[:4] == H.PREFIX_55AA_BIN else data[10:14])[0]
        neg = cmd in (CT.SESS_KEY_NEG_START, CT.SESS_KEY_NEG_RESP, CT.SESS_KEY_NEG_FINISH)
        key = None
        if v >= 3.4:
            key = real if neg else d.local_key
        msg = unpack_message(data, hmac_key=key, no_retcode=not from_dev)
        item = {"cmd": msg.cmd, "seq": msg.seqno, "retcode": msg.retcode if from_dev else None,
                "crc_good": bool(msg.crc_good), "json": None, "payload": None}
        if neg:
            p = msg.payload
            if cmd == CT.SESS_KEY_NEG_RESP:
                step3 = d._negotiate_session_key_generate_step_3(msg)
                item["crc_good"] = item["crc_good"] and bool(step3)
                finish = step3.payload if step3 else None
                p = d.remote_nonce
            else:
                if v == 3.4:
                    p = AESCipher(real).decrypt(p, False, decode_text=False)
                if cmd == CT.SESS_KEY_NEG_START:
                    d.local_nonce = p[:16]
                    d.local_key = real
                else:
                    item["crc_good"] = item["crc_good"] and p == finish
                    d._negotiate_session_key_generate_finalize()
            item["payload"] = p.hex()
        else:
            item["json"] = decoded_json(d, msg.payload)
        out.append(item)
    sk = d.local_key.hex() if v >= 3.4 and d.local_key != real else None
    return {"frames": out, "session_key": sk}


def write(req):
    d = device(req["version"], req["local_key"])
    v = d.version
    real = d.real_local_key
    rnd = FixedRandom(bytes.fromhex(req["local_nonce"]))
    os.urandom = rnd
    dev_id = req["device_id"]
    frames = []
    dev_seq = [0]

    def add(direction, raw, cmd, seq, payload, kind):
        frames.append({"dir": direction, "hex": raw.hex(), "cmd": cmd, "seq": seq,
                       "payload": payload.hex(), "kind": kind})

    def client(mp, kind="json"):
        seq = d.seqno
        add("c2d", d._encode_message(mp), mp.cmd, seq, mp.payload, kind)
        return seq

    def device_frame(cmd, seq, payload, header=False, key=None, kind="json"):
        if v == 3.5:
            dev_seq[0] += 1
            seq = dev_seq[0]
        k = key or d.local_key
        rc = struct.pack(">I", 0)
        hdr = d.version_header if header else b""
        if v == 3.5:
            msg = TuyaMessage(seq, cmd, 0, hdr + payload, 0, True, H.PREFIX_6699_VALUE, rnd(12))
            raw = pack_message(msg, hmac_key=k)
        elif v == 3.4:
            body = AESCipher(k).encrypt(hdr + payload, False) if (hdr + payload) else b""
            raw = pack_message(TuyaMessage(seq, cmd, 0, rc + body, 0, True, H.PREFIX_55AA_VALUE, False), hmac_key=k)
        elif v >= 3.2:
            body = hdr + AESCipher(k).encrypt(payload, False) if payload else b""
            raw = pack_message(TuyaMessage(seq, cmd, 0, rc + body, 0, True, H.PREFIX_55AA_VALUE, False))
        else:
            if header:
                enc = AESCipher(k).encrypt(payload)
                sig = hashlib.md5(b"data=" + enc + b"||lpv=3.1||" + k).hexdigest()[8:][:16]
                body = b"3.1" + sig.encode() + enc
            else:
                body = payload
            raw = pack_message(TuyaMessage(seq, cmd, 0, rc + body, 0, True, H.PREFIX_55AA_VALUE, False))
        add("d2c", raw, cmd, seq, payload, kind if payload or kind == "negotiation" else "empty")
        return raw

    if v >= 3.4:
        start = d._negotiate_session_key_generate_step_1()
        seq = client(start, "negotiation")
        remote = bytes.fromhex(req["remote_nonce"])
        resp = remote + hmac.new(real, d.local_nonce, hashlib.sha256).digest()
        raw = device_frame(CT.SESS_KEY_NEG_RESP, seq, resp, key=real, kind="negotiation")
        step3 = d._negotiate_session_key_generate_step_3(
            unpack_message(raw, hmac_key=real, no_retcode=False))
        assert step3, "tinytuya refused the device's nonce proof"
        client(step3, "negotiation")
        d._negotiate_session_key_generate_finalize()

    def status(dps, t):
        if v >= 3.4:
            return json.dumps({"protocol": 4, "t": t, "data": {"dps": dps}}, separators=(",", ":")).encode()
        return json.dumps({"devId": dev_id, "dps": dps, "t": t}, separators=(",", ":")).encode()

    q = d.generate_payload(CT.DP_QUERY)
    seq = client(q)
    device_frame(q.cmd, seq, status({"1": False, "9": 0, "17": 0, "18": 0, "19": 0, "20": 2301}, 1))
    for on, t in ((True, 2), (False, 60)):
        c = d.generate_payload(CT.CONTROL, {"1": on})
        seq = client(c)
        device_frame(c.cmd, seq, b"")
        device_frame(CT.STATUS, 100 + t, status({"1": on}, t + 1), header=True)
        if on:
            device_frame(CT.STATUS, 130, status({"1": True, "17": 3, "18": 412, "19": 945, "20": 2301}, 30),
                         header=True)
            hb = d.generate_payload(CT.HEART_BEAT)
            seq = client(hb)
            device_frame(CT.HEART_BEAT, seq, b"")
    sk = d.local_key.hex() if v >= 3.4 else None
    return {"frames": frames, "session_key": sk}


def udp_read(req):
    out = []
    for h in req["datagrams"]:
        r = tinytuya.decrypt_udp(bytes.fromhex(h))
        out.append(r if isinstance(r, str) else r.decode())
    return {"json": out}


def udp_write(req):
    os.urandom = FixedRandom(None)
    j = req["json"].encode()
    rc = struct.pack(">I", 0)
    k = tinytuya.udpkey
    out = [
        {"port": 6666, "hex": pack_message(TuyaMessage(0, CT.UDP_NEW, 0, rc + j, 0, True, H.PREFIX_55AA_VALUE, False)).hex()},
        {"port": 6667, "hex": pack_message(TuyaMessage(0, CT.UDP_NEW, 0, rc + tinytuya.encrypt(j, k), 0, True, H.PREFIX_55AA_VALUE, False)).hex()},
        {"port": 7000, "hex": pack_message(TuyaMessage(0, CT.UDP_NEW, 0, j, 0, True, H.PREFIX_6699_VALUE, b"0123456789ab"), hmac_key=k).hex()},
    ]
    bcast = json.dumps({"from": "app", "ip": req["ip"]}).encode()
    app = TuyaMessage(0, CT.REQ_DEVINFO, None, bcast, 0, True, H.PREFIX_6699_VALUE, True)
    out.append({"port": 7000, "hex": pack_message(app, hmac_key=k).hex()})
    return {"datagrams": out}


def main():
    req = json.load(sys.stdin)
    op = req["op"]
    if op == "check":
        ans = {"tinytuya": tinytuya.__version__}
    else:
        ans = {"read": read, "write": write, "udp_read": udp_read, "udp_write": udp_write}[op](req)
    json.dump(ans, sys.stdout)


if __name__ == "__main__":
    main()
