#!/usr/bin/env python3
"""Turn `tmux capture-pane -e -p` output (text with ANSI SGR colours) into one
HTML page, for the README's picture of `watch --tui` (docs/img/tui.png):

    tmux -L demo new-session -d -x 160 -y 48 \
        'plugsniff watch -r captures/demo.pcapng --config captures/demo.toml --tui'
    tmux -L demo capture-pane -e -p > screen.ansi
    python3 tools/ansi2html.py screen.ansi > screen.html
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --window-size=1370,890 --screenshot=docs/img/tui.png screen.html

Handles what tmux emits: SGR 0/1/2/7/22/27, the 8 + 8 colours, 256 colours and
24-bit colours, foreground and background. Everything else is dropped.
"""
import html
import re
import sys

BASE = ["#1e1e1e", "#e05252", "#5fbf5f", "#d7c04a", "#5c8fd6", "#c86ad8", "#4fc1d0", "#c8c8c8"]
BRIGHT = ["#707070", "#ff7070", "#7fe07f", "#f0e070", "#80b0ff", "#e090f0", "#70e0f0", "#ffffff"]
FG, BG = "#d0d0d0", "#121212"


def c256(n):
    if n < 8:
        return BASE[n]
    if n < 16:
        return BRIGHT[n - 8]
    if n < 232:
        n -= 16
        v = [0, 95, 135, 175, 215, 255]
        return "#%02x%02x%02x" % (v[n // 36], v[n // 6 % 6], v[n % 6])
    g = 8 + (n - 232) * 10
    return "#%02x%02x%02x" % (g, g, g)


def convert(text):
    st = {"fg": None, "bg": None, "bold": False, "dim": False, "rev": False}
    out = []
    for line in text.rstrip("\n").split("\n"):
        parts = re.split(r"\x1b\[([0-9;]*)m", line)
        row = []
        for i, p in enumerate(parts):
            if i % 2 == 1:
                codes = [int(c) if c else 0 for c in p.split(";")] if p else [0]
                j = 0
                while j < len(codes):
                    c = codes[j]
                    if c == 0:
                        st = {"fg": None, "bg": None, "bold": False, "dim": False, "rev": False}
                    elif c == 1:
                        st["bold"] = True
                    elif c == 2:
                        st["dim"] = True
                    elif c == 22:
                        st["bold"] = st["dim"] = False
                    elif c == 7:
                        st["rev"] = True
                    elif c == 27:
                        st["rev"] = False
                    elif 30 <= c <= 37:
                        st["fg"] = BASE[c - 30]
                    elif 90 <= c <= 97:
                        st["fg"] = BRIGHT[c - 90]
                    elif c == 39:
                        st["fg"] = None
                    elif 40 <= c <= 47:
                        st["bg"] = BASE[c - 40]
                    elif 100 <= c <= 107:
                        st["bg"] = BRIGHT[c - 100]
                    elif c == 49:
                        st["bg"] = None
                    elif c in (38, 48) and j + 1 < len(codes):
                        if codes[j + 1] == 5 and j + 2 < len(codes):
                            col = c256(codes[j + 2])
                            j += 2
                        elif codes[j + 1] == 2 and j + 4 < len(codes):
                            col = "#%02x%02x%02x" % tuple(codes[j + 2:j + 5])
                            j += 4
                        else:
                            col = None
                        st["fg" if c == 38 else "bg"] = col
                    j += 1
                continue
            if not p:
                continue
            fg, bg = st["fg"] or FG, st["bg"] or BG
            if st["rev"]:
                fg, bg = bg, fg
            style = "color:%s;background:%s" % (fg, bg)
            if st["bold"]:
                style += ";font-weight:bold"
            if st["dim"]:
                style += ";opacity:0.6"
            row.append('<span style="%s">%s</span>' % (style, html.escape(p)))
        out.append("".join(row))
    return (
        "<!doctype html><meta charset=utf-8><style>"
        "body{margin:0;background:%s}"
        "pre{margin:8px;font:14px/1.3 'DejaVu Sans Mono','Liberation Mono',monospace;color:%s}"
        "</style><pre>%s</pre>" % (BG, FG, "\n".join(out))
    )


if __name__ == "__main__":
    src = open(sys.argv[1], encoding="utf-8").read() if len(sys.argv) > 1 else sys.stdin.read()
    sys.stdout.write(convert(src))
