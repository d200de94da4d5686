#!/bin/bash
# Regenerates this throwaway test PKI with strongSwan's `pki` tool (keys are for tests only).
set -euo pipefail
cd "$(dirname "$0")"
exec 3>&2 2>/dev/null   # pki's plugin loader is chatty
ca() { # NAME TYPE SIZE CN
    pki --gen --type "$2" --size "$3" --outform pem >"$1.key"
    pki --self --ca --lifetime 3650 --in "$1.key" --outform pem --dn "C=XX, O=mobikectl test, CN=$4" >"$1.crt"
}
ee() { # NAME TYPE SIZE CA SAN... (CN = the first SAN)
    local n=$1 t=$2 s=$3 c=$4; shift 4
    local sans=() x; for x in "$@"; do sans+=(--san "$x"); done
    pki --gen --type "$t" --size "$s" --outform pem >"$n.key"
    pki --pub --in "$n.key" | pki --issue --cacert "$c.crt" --cakey "$c.key" --lifetime 3650 \
        --dn "C=XX, O=mobikectl test, CN=$1" "${sans[@]}" --outform pem >"$n.crt"
}
ca rsa-ca rsa 2048 "RSA test CA"
ca ec-ca ecdsa 384 "ECDSA test CA"
ca other-ca ecdsa 256 "Untrusted test CA"
ee moon rsa 2048 rsa-ca moon.example.org 192.0.2.1
ee sun ecdsa 256 ec-ca sun.example.org
ee carol ecdsa 384 ec-ca carol@example.org
ee mallory ecdsa 256 other-ca moon.example.org
# an intermediate CA under rsa-ca, and venus under it (venus-chain.crt: venus, then int-ca)
pki --gen --type ecdsa --size 256 --outform pem >int-ca.key
pki --pub --in int-ca.key | pki --issue --ca --cacert rsa-ca.crt --cakey rsa-ca.key --lifetime 3650 \
    --dn "C=XX, O=mobikectl test, CN=Intermediate test CA" --outform pem >int-ca.crt
ee venus ecdsa 256 int-ca venus.example.org
cat venus.crt int-ca.crt >venus-chain.crt
exec 2>&3 3>&-
