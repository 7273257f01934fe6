#!/usr/bin/env python3
"""Fetches a Prometheus text exposition and parses it with the Prometheus
project's own parser (prometheus_client.parser), printing every sample as
JSON: [[name, {labels}, value], ...] and the families' types.

Usage: prom_parse.py URL

Exit 3 when prometheus_client is not installed (the test then skips, or
fails under CI=true); any parse error is an exception (exit 1).
"""
import json
import sys
import urllib.request

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    sys.stderr.write("prometheus_client is not installed (pip install prometheus-client)\n")
    sys.exit(3)


def main():
    with urllib.request.urlopen(sys.argv[1], timeout=10) as r:
        ctype = r.headers.get("Content-Type", "")
        text = r.read().decode("utf-8")
    samples = []
    types = {}
    for fam in text_string_to_metric_families(text):
        types[fam.name] = fam.type
        for s in fam.samples:
            samples.append([s.name, s.labels, s.value])
    json.dump({"content_type": ctype, "types": types, "samples": samples}, sys.stdout)


if __name__ == "__main__":
    main()
