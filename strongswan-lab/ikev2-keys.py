#!/usr/bin/env python3
"""Extract IKEv2 SA keys from charon logs (ike >= 4) and tie them to SPIs.

charon (5.9.8) logs at `ike 4`, for every IKE SA it derives keys for (initial
and rekeyed):  `selected proposal: IKE:...`, `Sk_d secret => N bytes`, Sk_ai,
Sk_ar (not for AEAD), Sk_ei, Sk_er, Sk_pi, Sk_pr, each followed by hex dump
lines. The SPIs are not logged with the keys; for an initial SA the
`natd_chunk` dump (SPIi | SPIr | addr | port) just before `SKEYSEED` gives
them, for a rekeyed SA nothing does. So every key set is matched against the
SPI pairs seen in the captures' encrypted messages and confirmed by letting
tshark decrypt (integrity/ICV correct, payloads parse).

Writes, into --out:
  ikev2_decryption_table  Wireshark UAT (only algorithms Wireshark 4.0 knows)
  ikev2_keys.json         every SA, including ones Wireshark cannot decrypt
                          (e.g. ChaCha20-Poly1305), with PRF, DH, Sk_d, Sk_p*

  ikev2-keys.py --log carol-charon.log --pcap a.pcap [--pcap b.pcap] --out DIR
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

LINE = re.compile(r'^\w{3}\s+\d+ [\d:]+ (\d+)\[(\w+)\] (?:<[^>]*> )?(.*)$')
DUMP_HDR = re.compile(r'^(.*?) => (\d+) bytes @ ')
DUMP_ROW = re.compile(r'^\s*(\d+): (.*)$')

ENC = {
    'AES_CBC': lambda n, icv: f'AES-CBC-{n} [RFC3602]',
    'AES_CTR': lambda n, icv: f'AES-CTR-{n} [RFC5930]',
    'AES_GCM': lambda n, icv: f'AES-GCM-{n} with {icv} octet ICV [RFC5282]',
    'AES_CCM': lambda n, icv: f'AES-CCM-{n} with {icv} octet ICV [RFC5282]',
}
INTEG = {
    'HMAC_SHA1_96': 'HMAC_SHA1_96 [RFC2404]',
    'HMAC_SHA2_256_128': 'HMAC_SHA2_256_128 [RFC4868]',
    'HMAC_SHA2_384_192': 'HMAC_SHA2_384_192 [RFC4868]',
    'HMAC_SHA2_512_256': 'HMAC_SHA2_512_256 [RFC4868]',
}


def wireshark_names(proposal):
    """IKE:AES_GCM_16_256/PRF_HMAC_SHA2_384/ECP_384 -> (enc, integ) or None"""
    parts = proposal.split('/')
    enc, integ = parts[0], None
    for p in parts[1:]:
        if p.startswith(('HMAC_', 'AES_XCBC', 'AES_CMAC')):
            integ = p
    if enc == '3DES_CBC':
        e = '3DES [RFC2451]'
    else:
        m = re.match(r'^(AES_(?:CBC|CTR))_(\d+)$', enc) or re.match(r'^(AES_(?:GCM|CCM))_(\d+)_(\d+)$', enc)
        if not m:
            return None
        if m.group(1) in ('AES_GCM', 'AES_CCM'):
            e = ENC[m.group(1)](m.group(3), m.group(2))
        else:
            e = ENC[m.group(1)](m.group(2), None)
    if integ is None:
        i = 'NONE [RFC4306]'
    elif integ in INTEG:
        i = INTEG[integ]
    else:
        return None
    return e, i


def parse_log(path):
    """-> list of key sets in derivation order"""
    sets, proposal, natd = [], None, {}
    cur = None          # key set being filled
    dump = None         # (name, length, bytearray, thread)
    with open(path, errors='replace') as f:
        for raw in f:
            m = LINE.match(raw.rstrip('\n'))
            if not m:
                continue
            thread, _grp, msg = m.groups()
            if dump is not None and dump[3] == thread:
                r = DUMP_ROW.match(msg)
                if r:
                    need = dump[1] - len(dump[2])
                    toks = r.group(2)[:48].split()
                    dump[2].extend(bytes.fromhex(''.join(toks[:need])))
                    if len(dump[2]) >= dump[1]:
                        finish(dump, thread, sets, natd)
                        dump = None
                    continue
            h = DUMP_HDR.match(msg)
            if h and h.group(1) in ('natd_chunk', 'Sk_d secret', 'Sk_ai secret', 'Sk_ar secret',
                                    'Sk_ei secret', 'Sk_er secret', 'Sk_pi secret', 'Sk_pr secret'):
                dump = (h.group(1), int(h.group(2)), bytearray(), thread)
                if h.group(1) == 'Sk_d secret':
                    # a new key set; its SPIs: the natd_chunk of this thread
                    sets.append({'proposal': proposal, 'natd': natd.pop(thread, None),
                                 'keys': {}, 'thread': thread})
                continue
            p = re.match(r'^selected proposal: IKE:(\S+)', msg)
            if p:
                proposal = p.group(1)
    return [s for s in sets if {'Sk_ei', 'Sk_er'} <= s['keys'].keys()]


def finish(dump, thread, sets, natd):
    name, _n, data, _t = dump
    if name == 'natd_chunk':
        spi_i, spi_r = data[0:8].hex().upper(), data[8:16].hex().upper()
        if int(spi_r, 16) != 0:
            natd[thread] = (spi_i, spi_r)
        return
    key = name.split()[0]
    for s in reversed(sets):
        if s['thread'] == thread:
            # PPK re-derivation would log Sk_d/Sk_p again: keep the first
            s['keys'].setdefault(key, data.hex().upper())
            return


def spi_pairs(pcaps):
    """SPI pairs of encrypted IKE messages (exchange type != IKE_SA_INIT), in order"""
    seen, out = set(), []
    for p in pcaps:
        r = subprocess.run(['tshark', '-r', p, '-Y', 'isakmp.exchangetype != 34 && isakmp.rspi != 00:00:00:00:00:00:00:00',
                            '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'isakmp.ispi', '-e', 'isakmp.rspi'],
                           capture_output=True, text=True, check=True)
        for line in r.stdout.splitlines():
            t, i, rr = line.split('\t')[:3]
            pair = (i.split(',')[0].replace(':', '').upper(), rr.split(',')[0].replace(':', '').upper())
            if pair not in seen:
                seen.add(pair)
                out.append((float(t), pair))
    out.sort()
    return [p for _, p in out]


def uat_line(spi, ks, names):
    k = ks['keys']
    return ','.join([spi[0], spi[1], k['Sk_ei'], k['Sk_er'], f'"{names[0]}"',
                     k.get('Sk_ai', ''), k.get('Sk_ar', ''), f'"{names[1]}"'])


def tshark_check(pcaps, lines, display_filter=None):
    """Decrypt with the given UAT lines; -> (encrypted msgs, ok msgs, problems)"""
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, 'ikev2_decryption_table'), 'w') as f:
            f.write('\n'.join(lines) + '\n')
        env = dict(os.environ, WIRESHARK_CONFIG_DIR=d)
        total = ok = 0
        problems = []
        for p in pcaps:
            cmd = ['tshark', '-r', p, '-V']
            if display_filter:
                cmd += ['-Y', display_filter]
            out = subprocess.run(cmd, capture_output=True, text=True, env=env).stdout
            for frame in re.split(r'\n(?=Frame \d+:)', out):
                if 'Encrypted and Authenticated' not in frame:
                    continue
                total += 1
                fn = re.match(r'Frame (\d+)', frame)
                # integrity (HMAC or AEAD ICV) verified and every payload parsed
                bad = ('Malformed' in frame or 'incorrect' in frame or 'Decrypted Data' not in frame
                       or '[correct]' not in frame)
                if bad:
                    problems.append(f'{os.path.basename(p)} frame {fn.group(1) if fn else "?"}')
                else:
                    ok += 1
        return total, ok, problems


def ike_messages(pcaps, pair):
    """raw IKE messages (non-ESP marker removed) with these SPIs"""
    flt = f'isakmp.ispi == {pair[0]} && isakmp.rspi == {pair[1]}'
    for p in pcaps:
        r = subprocess.run(['tshark', '-r', p, '-Y', flt, '-T', 'fields', '-e', 'frame.number',
                            '-e', 'udp.dstport', '-e', 'udp.srcport', '-e', 'udp.payload'],
                           capture_output=True, text=True, check=True)
        for line in r.stdout.splitlines():
            fn, dport, sport, payload = line.split('\t')[:4]
            data = bytes.fromhex(payload.replace(':', ''))
            if data[:4] == b'\0\0\0\0':
                data = data[4:]
            yield os.path.basename(p), fn, data


def chacha_check(pcaps, pair, ks):
    """Wireshark 4.0 cannot decrypt ChaCha20-Poly1305 (RFC 7634) IKE messages:
    check the keys with python3-cryptography instead. -> (total, ok) or None"""
    try:
        from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
    except ImportError:
        return None
    total = ok = 0
    for _name, _fn, m in ike_messages(pcaps, pair):
        if len(m) < 28 or m[16] not in (46, 53):
            continue
        total += 1
        hdr = 28 + (8 if m[16] == 53 else 4)
        key = bytes.fromhex(ks['keys']['Sk_ei' if m[19] & 0x08 else 'Sk_er'])
        plen = int.from_bytes(m[30:32], 'big')
        iv, ct = m[hdr:hdr + 8], m[hdr + 8:28 + plen]
        try:
            pt = ChaCha20Poly1305(key[:32]).decrypt(key[32:36] + iv, ct, m[:hdr])
            if pt[-1] < len(pt):
                ok += 1
        except Exception:
            pass
    return total, ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--log', action='append', required=True)
    ap.add_argument('--pcap', action='append', required=True)
    ap.add_argument('--out', required=True)
    a = ap.parse_args()

    sets = []
    for lg in a.log:
        sets = parse_log(lg)
        if sets:
            break
    pairs = spi_pairs(a.pcap)
    used, result = set(), []
    for pair in pairs:
        # candidates: the set whose natd chunk names this pair first, then the rest in order
        cands = sorted(range(len(sets)), key=lambda i: (sets[i]['natd'] != pair, i))
        for i in cands:
            if i in used:
                continue
            ks = sets[i]
            names = wireshark_names(ks['proposal'] or '')
            if names is None:
                if (ks['proposal'] or '').startswith('CHACHA20_POLY1305'):
                    res = chacha_check(a.pcap, pair, ks)
                    if res is not None:
                        if res[0] and res[0] == res[1]:
                            print(f'python3-cryptography: {res[1]}/{res[0]} ChaCha20-Poly1305 '
                                  f'messages of {pair[0]}/{pair[1]} decrypted')
                            used.add(i)
                            result.append((pair, ks, None))
                            break
                        continue
                # nothing can check it: trust the natd chunk, else log order
                if ks['natd'] == pair or ks['natd'] is None:
                    used.add(i)
                    result.append((pair, ks, None))
                    break
                continue
            flt = f'isakmp.ispi == {pair[0]} && isakmp.rspi == {pair[1]}'
            total, ok, _ = tshark_check(a.pcap, [uat_line(pair, ks, names)], flt)
            if total and ok == total:
                used.add(i)
                result.append((pair, ks, names))
                break
        else:
            print(f'warning: no keys found for SPIs {pair[0]}/{pair[1]}', file=sys.stderr)

    os.makedirs(a.out, exist_ok=True)
    lines = [uat_line(p, ks, n) for p, ks, n in result if n]
    with open(os.path.join(a.out, 'ikev2_decryption_table'), 'w') as f:
        f.write(''.join(l + '\n' for l in lines))
    js = []
    for p, ks, n in result:
        prop = ks['proposal'] or ''
        js.append({'spi_i': p[0], 'spi_r': p[1], 'proposal': prop,
                   'wireshark_encryption': n[0] if n else None,
                   'wireshark_integrity': n[1] if n else None,
                   **{k.lower(): v for k, v in sorted(ks['keys'].items())}})
    with open(os.path.join(a.out, 'ikev2_keys.json'), 'w') as f:
        json.dump(js, f, indent=2)
        f.write('\n')
    for p, ks, n in result:
        print(f'{p[0]} {p[1]} {ks["proposal"]} {"wireshark" if n else "no-wireshark"}')
    unused = [i for i in range(len(sets)) if i not in used]
    if unused:
        print(f'note: {len(unused)} key set(s) without SPIs on the wire (e.g. half-open SAs)', file=sys.stderr)
    if lines:
        total, ok, problems = tshark_check(a.pcap, lines)
        print(f'tshark: {ok}/{total} encrypted messages decrypted'
              + (f'; problems: {", ".join(problems)}' if problems else ''))
        if problems:
            return 1
    return 0 if len(result) == len(pairs) else 1


if __name__ == '__main__':
    sys.exit(main())
