"""Independent reference for plugsniff's eWeLink LAN crypto: pysonofflanr3
1.1.4 (pip `pysonofflanr3`), `pysonofflanr3/sonoffcrypto.py` `encrypt` and
`decrypt` (AES-128-CBC, key MD5(devicekey), PKCS#7).

stdin: {"decrypt": [[iv_b64, data_b64, devicekey], ...],
        "encrypt": [[plaintext, iv_hex, devicekey], ...]}
stdout: {"decrypt": [plaintext or null, ...], "encrypt": [data_b64, ...]}
"""
import json
import sys

from pysonofflanr3 import sonoffcrypto

req = json.load(sys.stdin)
dec = []
for iv, data, key in req.get("decrypt", []):
    try:
        dec.append(sonoffcrypto.decrypt(data, iv, key).decode("utf-8"))
    except Exception:  # wrong key: bad padding
        dec.append(None)
enc = [sonoffcrypto.encrypt(p, bytes.fromhex(iv), key) for p, iv, key in req.get("encrypt", [])]
print(json.dumps({"decrypt": dec, "encrypt": enc}))
