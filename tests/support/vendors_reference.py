#!/usr/bin/env python3
"""Independent readings of plugsniff's synthetic Shelly, Wemo and Meross
traffic, by the vendors' own Python libraries (used by tests/vendors_reference.rs).

Reads one JSON object on stdin (what plugsniff generated) and prints one JSON
object with what each library reads from it:

- WebSocket bytes of each direction -> aiohttp's WebSocketReader (the RFC 6455
  parser aioshelly's WsRPC runs on) -> every message; the text messages ->
  aioshelly WsRPC.handle_frame, which decides call / notification / response.
- CoIoT datagrams -> aioshelly block_device.coap.CoapMessage.
- Digest auth: aioshelly AuthData.get_auth with the cnonce pinned.
- InsightParams -> pywemo Insight.parse_insight_params;
  setup.xml -> pywemo DeviceDescription.dict_from_xml;
  SOAP answers -> pywemo Action.__call__ (its response parsing), and the
  request bodies pywemo itself builds for SetBinaryState / GetInsightParams.
- Meross headers -> meross_iot verify_message_signature.

Exit status 3 when a library is missing (the Rust test skips, except under CI=true).
"""

import asyncio
import base64
import json
import sys
from types import SimpleNamespace

try:
    from aiohttp._websocket.reader_py import WebSocketReader
    from aiohttp import WSMsgType
    from aioshelly.block_device.coap import CoapMessage, InvalidMessage
    from aioshelly.rpc_device import wsrpc
    from aioshelly.rpc_device.wsrpc import AuthData, RPCSource, WsRPC
    from pywemo.ouimeaux_device.insight import Insight
    from pywemo.ouimeaux_device.api.xsd_types import DeviceDescription
    from pywemo.ouimeaux_device.api.service import Action
    from meross_iot.utilities.mqtt import verify_message_signature
except ImportError as e:  # pragma: no cover
    print(f"missing reference library: {e}", file=sys.stderr)
    sys.exit(3)


class Queue:
    """The sink aiohttp's WebSocketReader feeds."""

    def __init__(self):
        self.items = []
        # What the reader reads of its queue for flow control.
        self._size, self._limit, self._stalled_reader = 0, 1 << 30, None

    def feed_data(self, data, size):
        self.items.append(data)

    def feed_eof(self):
        pass

    def set_exception(self, exc, cause=None):
        self.items.append(("exception", repr(exc)))


def ws_messages(raw: bytes):
    q = Queue()
    reader = WebSocketReader(q, 1 << 20, compress=False, decode_text=True)
    reader.feed_data(raw)
    out = []
    for m in q.items:
        if isinstance(m, tuple) and m and m[0] == "exception":
            out.append({"type": "error", "data": m[1]})
            continue
        out.append({"type": WSMsgType(m.type).name, "data": m.data if isinstance(m.data, str) else None})
    return out


async def rpc_kinds(client_texts, server_texts):
    """What aioshelly's WsRPC makes of each frame."""
    notes = []
    rpc = WsRPC("192.168.1.31", lambda src, method, params: notes.append(method))
    loop = asyncio.get_running_loop()
    methods = {}
    out = []
    for t in client_texts:
        f = json.loads(t)
        # The app's own calls: what WsRPC.call registers before sending.
        rpc._calls[f["id"]] = SimpleNamespace(resolve=loop.create_future())
        methods[f["id"]] = f["method"]
        out.append({"dir": "client", "kind": "call", "method": f["method"]})
    for t in server_texts:
        f = json.loads(t)
        before = len(notes)
        calls = dict(rpc._calls)
        rpc.handle_frame(RPCSource.SERVER, f)
        if len(notes) > before:
            out.append({"dir": "server", "kind": "notification", "method": notes[-1]})
        elif f.get("id") in calls and f.get("id") not in rpc._calls:
            out.append({"dir": "server", "kind": "response", "method": methods[f["id"]], "id": f["id"]})
        else:
            out.append({"dir": "server", "kind": "invalid"})
    return out


def coap(hexes):
    out = []
    for h in hexes:
        try:
            m = CoapMessage(("192.168.1.30", 5683), bytes.fromhex(h))
        except InvalidMessage as e:
            out.append({"error": str(e)})
            continue
        out.append({
            "code": m.code,
            "mid": m.mid,
            "options": {str(k): v.hex() for k, v in m.options.items()},
            "payload": m.payload,
            "device_id": m.options[3332].decode().split("#")[1][-6:] if 3332 in m.options else None,
        })
    return out


def digest(d):
    a = AuthData(d["realm"], "admin", d["password"])
    a.update_challenge({"nonce": d["nonce"], "algorithm": "SHA-256", "nc": 1})
    pinned = base64.b64decode(d["cnonce"])
    real = wsrpc.secrets.token_bytes
    wsrpc.secrets.token_bytes = lambda n: pinned
    try:
        return a.get_auth()
    finally:
        wsrpc.secrets.token_bytes = real


class FakeSession:
    def __init__(self, data: bytes):
        self.data = data
        self.sent = None
        self.host, self.port = "192.168.1.40", 49153

    def post(self, url, headers=None, body=None, timeout=None):
        self.sent = {"url": url, "headers": headers, "body": body}
        return SimpleNamespace(data=self.data)


def pywemo_call(service_type, control, action, args, response: bytes):
    session = FakeSession(response)
    device = SimpleNamespace(session=session, name="Insight", reconnect_with_device=lambda: None)
    service = SimpleNamespace(serviceType=service_type, controlURL=control, device=device)
    cfg = SimpleNamespace(name=action, arguments=[SimpleNamespace(name=k, direction="in") for k in args])
    result = Action(service, cfg)(**args)
    return {"result": result, "request_body": session.sent["body"], "soapaction": session.sent["headers"]["SOAPACTION"]}


def main():
    inp = json.load(sys.stdin)
    out = {}
    ws = {d: ws_messages(bytes.fromhex(h)) for d, h in inp["ws"].items()}
    out["ws"] = ws
    texts = {d: [m["data"] for m in ms if m["type"] == "TEXT"] for d, ms in ws.items()}
    out["rpc"] = asyncio.run(rpc_kinds(texts["client"], texts["server"]))
    out["coap"] = coap(inp["coap"])
    out["digest"] = digest(inp["digest"])
    out["insight"] = [
        {**{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in Insight.parse_insight_params(p).items()}}
        for p in inp["insight"]
    ]
    dd = DeviceDescription.dict_from_xml(inp["setup_xml"].encode())
    out["setup"] = {k: dd[k] for k in ("name", "mac", "model_name", "serial_number", "firmware_version", "manufacturer", "udn")}
    out["soap"] = [pywemo_call(c["service"], c["control"], c["action"], c["args"], c["response"].encode()) for c in inp["soap"]]
    out["meross"] = [verify_message_signature(h, k) for h, k in inp["meross"]]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
