#!/usr/bin/env bash
# Checks that two builds of plugsniff write byte-identical decrypted output
# (`decrypt -o`, Ethernet and --keep-80211, and `watch -w`) on every capture
# with known keys: ../shared/captures, the committed captures/, and a
# generated capture of SIZE bytes (default 1G). For performance work: the
# output must not change (docs/performance.md).
#
#   tools/decrypt-identical.sh OLD_BINARY NEW_BINARY [SIZE]
#
# Scratch files go to $TMPDIR (default /tmp; use a tmpfs with room for
# three times SIZE).
set -euo pipefail
old=$1 new=$2 size=${3:-1G}
here="$(cd "$(dirname "$0")/.." && pwd)"
shared="$here/../shared/captures"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail=0 n=0

check() { # name, capture, then the key arguments
    local name=$1 cap=$2; shift 2
    [ -e "$cap" ] || { echo "skip $name: $cap absent"; return; }
    for mode in eth 80211 watch; do
        for b in old new; do
            local bin; bin=$([ $b = old ] && echo "$old" || echo "$new")
            case $mode in
                eth) "$bin" decrypt --no-prompt "$@" -o "$tmp/$b.pcap" "$cap" >/dev/null 2>&1 || true ;;
                80211) "$bin" decrypt --no-prompt --keep-80211 "$@" -o "$tmp/$b.pcap" "$cap" >/dev/null 2>&1 || true ;;
                watch) "$bin" watch --no-prompt --no-sandbox -r "$cap" "$@" -w "$tmp/$b.pcap" --pcap-rotate-mb 0 >/dev/null 2>&1 || true ;;
            esac
            [ -e "$tmp/$b.pcap" ] || : > "$tmp/$b.pcap"
        done
        n=$((n + 1))
        if cmp -s "$tmp/old.pcap" "$tmp/new.pcap"; then
            printf 'same %-44s %-6s %10d bytes\n' "$name" "$mode" "$(stat -c %s "$tmp/new.pcap")"
        else
            printf 'DIFF %-44s %-6s\n' "$name" "$mode"; fail=1
        fi
        rm -f "$tmp/old.pcap" "$tmp/new.pcap"
    done
}

pw() { # ssid passphrase
    printf '[[network]]\nssid = "%s"\npassphrase = "%s"\n' "$1" "$2" > "$tmp/$1.toml"
    echo "--config $tmp/$1.toml"
}

# shellcheck disable=SC2046
{
check wpa2-psk-linksys.cap "$shared/wpa2-psk-linksys.cap" $(pw linksys dictionary)
check wpa-psk-linksys.cap "$shared/wpa-psk-linksys.cap" $(pw linksys dictionary)
check wpa.cap "$shared/wpa.cap" $(pw test biscotte)
check n-02.cap "$shared/n-02.cap" $(pw Neheb 'bo$$password')
check wnm-sleep-wpa2-psk.pcapng "$shared/wnm-sleep-wpa2-psk.pcapng" $(pw test-wnm-rsn 12345678)
for f in ping_I_F_BE_AE-fromap.pcapng ping_I_E_E___inc_pn_2-fromap.pcapng amsdu-inject-fromap.pcapng; do
    check "$f" "$shared/$f" $(pw testnetwork abcdefgh)
done
check wpa3_transition_wpa3client_5ghz.pcapng "$shared/wpa3_transition_wpa3client_5ghz.pcapng" $(pw WPA3-AP-Transition-5G abcdefgh)
check demo.pcapng "$here/captures/demo.pcapng" --config "$here/captures/demo.toml"
for f in wpa2-psk-ccmp256.pcap wpa2-psk-gcmp.pcap ft-psk-roam-ccmp.pcap; do
    check "$f" "$here/captures/$f" $(pw plugsniff-synth 'synthetic passphrase')
done
}
# wpa-eap-tls.pcap: PMKs through a Wireshark key file.
printf '"wpa-psk","%s"\n' a5001e18e0b3f792278825bc3abff72d7021d7c157b600470ef730e2490835d4 \
    79258f6ceeecedd3482b92deaabdb675f09bcb4003ef5074f5ddb10a94ebe00a \
    23a9ee58c7810546ae3e7509fda9f97435778d689e53a54891c56d02f18ca162 > "$tmp/eap.keys"
check wpa-eap-tls.pcap "$shared/wpa-eap-tls.pcap" --wireshark-keys "$tmp/eap.keys"

"$new" bench --write-pcap "$tmp/big.pcap" --size "$size" >/dev/null
check "generated $size" "$tmp/big.pcap" $(pw plugsniff-demo 'correct horse battery')
echo "$n comparisons; $([ $fail = 0 ] && echo 'all identical' || echo 'DIFFERENCES')"
exit $fail
