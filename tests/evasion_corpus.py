#!/usr/bin/env python3
"""tests/evasion_corpus.py: the evasion corpus of tests/evasion.sh, generated (never downloaded).

stdlib only. Writes DIR/<name> (DIR the first argument) plus, for every file,
mail_<name>.eml (the file as a base64 attachment).

Naming: evil_* contain EICAR (the 7z ones ClamAV's clam.exe test file), twin_* are the same construction with benign
content, ok_* are well-formed clean controls (must stay CLEAN, no signal),
pos_* are well-formed positive controls (must be VIRUS).
"""
import base64, bz2, gzip, io, lzma, os, struct, sys, tarfile, zipfile, zlib

OUT = sys.argv[1]
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
BENIGN = b"Hello, this is a perfectly harmless text file used as a clean twin.\r\n"
ZEROS2M = b"\0" * (2 * 1024 * 1024)

files = {}  # name -> bytes


def put(name, data):
    files[name] = data


# ---------------------------------------------------------------- zip builder
def deflate_raw(data):
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def mkzip(entries, cd_override=None, drop_cd=False, extra_local=None):
    """entries: list of dict(name, data, method, comp(optional bytes),
    flags, l_csize/l_usize/c_csize/c_usize overrides, c_offset override,
    in_cd (default True))."""
    out = bytearray()
    cds = []
    for e in entries:
        name = e["name"].encode()
        data = e["data"]
        method = e.get("method", 8)
        comp = e.get("comp")
        if comp is None:
            comp = deflate_raw(data) if method == 8 else data
        crc = e.get("crc", zlib.crc32(data) & 0xFFFFFFFF)
        flags = e.get("flags", 0)
        off = len(out)
        l_csize = e.get("l_csize", len(comp))
        l_usize = e.get("l_usize", len(data))
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, method, 0, 0x21,
                           crc, l_csize, l_usize, len(name), 0) + name + comp
        if e.get("in_cd", True):
            cds.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, flags,
                                   method, 0, 0x21, crc,
                                   e.get("c_csize", len(comp)),
                                   e.get("c_usize", len(data)),
                                   len(name), 0, 0, 0, 0, 0,
                                   e.get("c_offset", off)) + name)
    cdoff = len(out)
    cd = b"".join(cds)
    if cd_override is not None:
        cd = cd_override(cd)
    if not drop_cd:
        out += cd
    n = len(cds)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, len(cd), cdoff, 0)
    return bytes(out)


def pyzip(members, compression=zipfile.ZIP_DEFLATED):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", compression) as z:
        for n, d in members:
            z.writestr(n, d)
    return b.getvalue()


def streamed_zip(members):
    """zip with data descriptors (bit 3), as written to a non-seekable pipe."""
    class NoSeek(io.RawIOBase):
        def __init__(self):
            self.buf = bytearray()
        def writable(self):
            return True
        def write(self, b):
            self.buf += b
            return len(b)
        def seekable(self):
            return False
    s = NoSeek()
    with zipfile.ZipFile(s, "w", zipfile.ZIP_DEFLATED) as z:
        for n, d in members:
            with z.open(n, "w") as f:
                f.write(d)
    return bytes(s.buf)


def both(prefix, builder):
    """builder(payload_bytes) -> container bytes; emits evil_ and twin_."""
    put("evil_" + prefix, builder(EICAR))
    put("twin_" + prefix, builder(BENIGN))


# ---- well-formed controls
put("ok_zip_deflate.zip", pyzip([("readme.txt", BENIGN), ("b.txt", BENIGN * 50)]))
put("ok_zip_stored.zip", pyzip([("readme.txt", BENIGN)], zipfile.ZIP_STORED))
put("ok_zip_bzip2.zip", pyzip([("readme.txt", BENIGN * 20)], zipfile.ZIP_BZIP2))
put("ok_zip_streamed.zip", streamed_zip([("readme.txt", BENIGN * 20)]))
put("ok_zip_empty.zip", pyzip([]))
put("ok_zip_dirs.zip", pyzip([("dir/", b""), ("dir/a.txt", BENIGN)]))
put("pos_zip_deflate.zip", pyzip([("readme.txt", BENIGN), ("eicar.com", EICAR)]))
put("pos_zip_streamed.zip", streamed_zip([("eicar.com", EICAR)]))
put("pos_zip_bzip2.zip", pyzip([("eicar.com", EICAR)], zipfile.ZIP_BZIP2))

# ---- 1. truncated zip (last 40 bytes cut: EOCD + 18 bytes of central dir)
both("zip_trunc40.zip", lambda p: pyzip([("readme.txt", BENIGN), ("eicar.com", p)])[:-40])
both("zip_trunc40_streamed.zip", lambda p: streamed_zip([("readme.txt", BENIGN), ("eicar.com", p)])[:-40])
# single member, truncated inside the compressed data of the member
both("zip_trunc_half.zip", lambda p: (lambda z: z[:len(z) // 2])(pyzip([("eicar.com", p + ZEROS2M[:4096])])))
# only EOCD removed (22 bytes)
both("zip_no_eocd.zip", lambda p: pyzip([("readme.txt", BENIGN), ("eicar.com", p)])[:-22])

# ---- 2. damaged central directory (EOCD intact)
def cd_garble(cd):
    b = bytearray(cd)
    for i in range(len(b)):
        if i % 7 == 3:
            b[i] ^= 0x5A
    return bytes(b)
both("zip_cd_garbled.zip", lambda p: mkzip([dict(name="readme.txt", data=BENIGN), dict(name="eicar.com", data=p)], cd_override=cd_garble))
# CD entry for the payload points to a wrong local header offset
both("zip_cd_badoffset.zip", lambda p: mkzip([dict(name="readme.txt", data=BENIGN), dict(name="eicar.com", data=p, c_offset=7)]))
# CD lists only the benign member; payload member exists only as local header
both("zip_hidden_local.zip", lambda p: mkzip([dict(name="readme.txt", data=BENIGN), dict(name="eicar.com", data=p, in_cd=False)]))
# EOCD says cd is elsewhere (cd dropped entirely, EOCD count=2)
def _nocd(p):
    z = mkzip([dict(name="readme.txt", data=BENIGN), dict(name="eicar.com", data=p)], drop_cd=True)
    return z
both("zip_cd_missing.zip", _nocd)

# ---- 3. local/central header size mismatch
both("zip_size_mismatch_cd_small.zip", lambda p: mkzip([dict(name="eicar.com", data=p + b"\0" * 4000, c_csize=5, c_usize=5)]))
both("zip_size_mismatch_lh_small.zip", lambda p: mkzip([dict(name="eicar.com", data=p + b"\0" * 4000, l_csize=5, l_usize=5)]))
both("zip_usize_lies.zip", lambda p: mkzip([dict(name="eicar.com", data=ZEROS2M[:300000] + p, l_usize=100, c_usize=100)]))
both("zip_crc_bad.zip", lambda p: mkzip([dict(name="eicar.com", data=p, crc=0x12345678)]))

# ---- 4. overlapping entries
def _overlap(p):
    z = mkzip([dict(name="eicar.com", data=p), dict(name="readme.txt", data=BENIGN)])
    # add a second CD entry that points at the first local header (offset 0)
    return z
both("zip_overlap_same_offset.zip", lambda p: mkzip([dict(name="eicar.com", data=p), dict(name="copy.com", data=p, c_offset=0, comp=deflate_raw(p))]))
# 2nd entry's local header lies inside the 1st entry's data
def _overlap_inside(p):
    inner_name = b"eicar.com"
    inner_comp = deflate_raw(p)
    inner_lfh = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, zlib.crc32(p) & 0xFFFFFFFF,
                            len(inner_comp), len(p), len(inner_name), 0) + inner_name + inner_comp
    # outer entry is "stored" and its data *is* the inner local entry
    outer_name = b"readme.txt"
    outer_data = BENIGN + inner_lfh
    out = bytearray()
    out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0x21, zlib.crc32(outer_data) & 0xFFFFFFFF,
                       len(outer_data), len(outer_data), len(outer_name), 0) + outer_name
    inner_off = len(out) + len(BENIGN)
    out += outer_data
    cd = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 0, 0, 0x21, zlib.crc32(outer_data) & 0xFFFFFFFF,
                     len(outer_data), len(outer_data), len(outer_name), 0, 0, 0, 0, 0, 0) + outer_name
    cd += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, zlib.crc32(p) & 0xFFFFFFFF,
                      len(inner_comp), len(p), len(inner_name), 0, 0, 0, 0, 0, inner_off) + inner_name
    cdoff = len(out)
    out += cd + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 2, 2, len(cd), cdoff, 0)
    return bytes(out)
# benign outer "stored" member hides raw payload -> use deflate for payload (inner is deflated)
both("zip_overlap_inside.zip", _overlap_inside)

# ---- 5. unsupported / unusual compression methods
both("zip_lzma.zip", lambda p: pyzip([("eicar.com", p)], zipfile.ZIP_LZMA))
both("zip_method98_ppmd.zip", lambda p: mkzip([dict(name="eicar.com", data=p, method=98, comp=bz2.compress(p))]))
both("zip_method77_unknown.zip", lambda p: mkzip([dict(name="eicar.com", data=p, method=77, comp=bz2.compress(p))]))
both("zip_method99_aes.zip", lambda p: mkzip([dict(name="eicar.com", data=p, method=99, flags=1, comp=bz2.compress(p))]))
both("zip_encrypted_zipcrypto.zip", lambda p: mkzip([dict(name="eicar.com", data=p, method=8, flags=1, comp=os.urandom(12) + bz2.compress(p))]))

# ---- 6. member larger than MaxFileSize (test with 1 MB limit)
both("zip_oversize_tail.zip", lambda p: pyzip([("big.bin", ZEROS2M + p)]))
both("zip_oversize_head.zip", lambda p: pyzip([("big.bin", p + ZEROS2M)]))
both("zip_oversize_tail_streamed.zip", lambda p: streamed_zip([("big.bin", ZEROS2M + p)]))
both("zip_oversize_usize_lies.zip", lambda p: mkzip([dict(name="big.bin", data=ZEROS2M + p, l_usize=1000, c_usize=1000)]))
both("zip_many_files.zip", lambda p: pyzip([("f%05d.txt" % i, b"x%d" % i) for i in range(20)] + [("eicar.com", p)]))

# ---- 7. tar
def mktar(p, name="eicar.com"):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.USTAR_FORMAT) as t:
        ti = tarfile.TarInfo("readme.txt"); ti.size = len(BENIGN); t.addfile(ti, io.BytesIO(BENIGN))
        ti = tarfile.TarInfo(name); ti.size = len(p); t.addfile(ti, io.BytesIO(p))
    return b.getvalue()

def tar_badck(p):
    t = bytearray(mktar(p))
    # second header at 512 + 512 (readme data padded to 512)
    h = 1024
    t[h + 148:h + 156] = b"0000000\0"
    return bytes(t)

def tar_badck_first(p):
    t = bytearray(mktar(p))
    t[148:156] = b"0000000\0"
    return bytes(t)
put("ok_tar.tar", mktar(BENIGN))
put("pos_tar.tar", mktar(EICAR))
both("tar_badcksum.tar", tar_badck)
both("tar_badcksum_first.tar", tar_badck_first)
both("tar_trunc.tar", lambda p: mktar(p + ZEROS2M[:20000])[:1024 + 512 + 600])

# ---- 8. truncated gzip / bzip2 / xz
def gz(d):
    return gzip.compress(d, 9, mtime=0)
put("ok_gz.gz", gz(BENIGN * 10))
put("pos_gz.gz", gz(EICAR))
put("ok_bz2.bz2", bz2.compress(BENIGN * 10))
put("pos_bz2.bz2", bz2.compress(EICAR))
put("ok_xz.xz", lzma.compress(BENIGN * 10))
put("pos_xz.xz", lzma.compress(EICAR))
import random
rnd = random.Random(1)
NOISE = bytes(rnd.getrandbits(8) for _ in range(200000))  # incompressible benign bytes
TEXT = BENIGN * 80  # compressible prefix: keeps the payload Huffman-coded, not in a stored block
# payload at the head, cut in the middle of the stream
both("gz_trunc_half.gz", lambda p: (lambda z: z[:len(z) // 2])(gz(p + NOISE)))
both("bz2_trunc_half.bz2", lambda p: (lambda z: z[:len(z) // 2])(bz2.compress(p + NOISE)))
both("xz_trunc_half.xz", lambda p: (lambda z: z[:len(z) // 2])(lzma.compress(p + NOISE)))
# payload at the tail, only the trailer cut (all compressed data present)
both("gz_cut_trailer.gz", lambda p: gz(TEXT + p)[:-8])
both("bz2_cut_trailer.bz2", lambda p: bz2.compress(TEXT + p)[:-6])
both("xz_cut_trailer.xz", lambda p: lzma.compress(TEXT + p)[:-12])
# payload at the tail, cut 40 bytes (payload itself damaged / missing)
both("gz_cut40.gz", lambda p: gz(TEXT + p)[:-40])
# zip inside truncated gzip
both("gz_of_zip_trunc.gz", lambda p: gz(pyzip([("eicar.com", p)]))[:-10])


# ---------------------------------------------------------------- MIME
def b64lines(data, width=76):
    s = base64.b64encode(data).decode()
    return "\r\n".join(s[i:i + width] for i in range(0, len(s), width))


HDR = ("From: a@example.com\r\nTo: b@example.org\r\nSubject: test\r\n"
       "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <x@example.com>\r\nMIME-Version: 1.0\r\n")


def mail_attach(data, fname="file.bin", ctype="application/octet-stream", closing=True, b64=None, extra_disp=None):
    b = "==BOUNDARY_42=="
    body = b64lines(data) if b64 is None else b64
    disp = extra_disp or 'attachment; filename="%s"' % fname
    s = (HDR + 'Content-Type: multipart/mixed; boundary="%s"\r\n\r\n' % b +
         "This is a multi-part message in MIME format.\r\n\r\n--%s\r\n" % b +
         "Content-Type: text/plain; charset=us-ascii\r\n\r\nSee attachment.\r\n\r\n--%s\r\n" % b +
         'Content-Type: %s; name="%s"\r\nContent-Transfer-Encoding: base64\r\n' % (ctype, fname) +
         "Content-Disposition: %s\r\n\r\n%s\r\n" % (disp, body))
    if closing:
        s += "--%s--\r\n" % b
    return s.encode()


put("ok_mail_plain.eml", (HDR + "Content-Type: text/plain\r\n\r\nHello\r\n").encode())
put("pos_mail_b64.eml", mail_attach(EICAR, "eicar.com"))
both("mime_no_closing_boundary.eml", lambda p: mail_attach(p, "eicar.com", closing=False))
both("mime_truncated_in_b64.eml", lambda p: mail_attach(pyzip([("eicar.com", p), ("pad.bin", NOISE[:3000])]), "x.zip", closing=False)[:-2000])

def garbage_b64(data):
    s = b64lines(data, 60)
    out = []
    for i, line in enumerate(s.split("\r\n")):
        out.append("".join(c + ("*" if j % 9 == 4 else "") + ("!" if j % 13 == 6 else "") for j, c in enumerate(line)))
    return "\r\n".join(out)
both("mime_b64_garbage.eml", lambda p: mail_attach(p, "eicar.com", b64=garbage_b64(p)))
both("mime_b64_garbage_zip.eml", lambda p: mail_attach(pyzip([("eicar.com", p)]), "x.zip", b64=garbage_b64(pyzip([("eicar.com", p)]))))
both("mime_b64_nowrap.eml", lambda p: mail_attach(p + NOISE[:30000], "eicar.com", b64=base64.b64encode(p + NOISE[:30000]).decode()))
both("mime_rfc2231_filename.eml", lambda p: mail_attach(p, "eicar.com",
     extra_disp="attachment; filename*0*=UTF-8''eic%61r; filename*1=\".com\""))

def rfc2231_boundary(p):
    b = "==SPLIT_BOUNDARY=="
    s = (HDR + 'Content-Type: multipart/mixed; boundary*0="==SPLIT_"; boundary*1="BOUNDARY=="\r\n\r\n' +
         "--%s\r\nContent-Type: text/plain\r\n\r\nhi\r\n--%s\r\n" % (b, b) +
         'Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n'
         'Content-Disposition: attachment; filename="eicar.com"\r\n\r\n%s\r\n--%s--\r\n' % (b64lines(p), b))
    return s.encode()
both("mime_rfc2231_boundary.eml", rfc2231_boundary)

def nested(p, depth):
    inner = mail_attach(p, "eicar.com").decode()
    for i in range(depth):
        b = "nest%03d" % i
        inner = (HDR + 'Content-Type: multipart/mixed; boundary="%s"\r\n\r\n--%s\r\n' % (b, b) +
                 "Content-Type: message/rfc822\r\n\r\n" + inner + "\r\n--%s--\r\n" % b)
    return inner.encode()
for d in (5, 20, 40):
    both("mime_nested_rfc822_%d.eml" % d, lambda p, d=d: nested(p, d))

def nested_direct(p, depth):
    inner = mail_attach(p, "eicar.com").decode()
    for i in range(depth):
        inner = HDR.replace("MIME-Version: 1.0\r\n", "") + "MIME-Version: 1.0\r\nContent-Type: message/rfc822\r\n\r\n" + inner
    return inner.encode()
both("mime_nested_direct_30.eml", lambda p: nested_direct(p, 30))

def uu(p, name="eicar.com"):
    lines = []
    for i in range(0, len(p), 45):
        lines.append(zipfile.binascii.b2a_uu(p[i:i + 45]).decode().rstrip("\n"))
    return "begin 644 %s\r\n%s\r\n`\r\nend\r\n" % (name, "\r\n".join(lines))
both("mime_uuencode.eml", lambda p: (HDR + "Content-Type: text/plain\r\n\r\nHere it is:\r\n\r\n" + uu(p)).encode())
both("mime_uuencode_zip.eml", lambda p: (HDR + "Content-Type: text/plain\r\n\r\nHere it is:\r\n\r\n" + uu(pyzip([("eicar.com", p)]), "x.zip")).encode())

def yenc(p, name="eicar.com"):
    out = bytearray()
    col = 0
    for c in p:
        e = (c + 42) & 0xFF
        if e in (0, 10, 13, 61):
            out += b"=" + bytes([(e + 64) & 0xFF]); col += 2
        else:
            out.append(e); col += 1
        if col >= 128:
            out += b"\r\n"; col = 0
    crc = zlib.crc32(p) & 0xFFFFFFFF
    return (b"=ybegin line=128 size=%d name=%s\r\n" % (len(p), name.encode()) + bytes(out) +
            b"\r\n=yend size=%d crc32=%08x\r\n" % (len(p), crc))
both("mime_yenc.eml", lambda p: (HDR + "Content-Type: text/plain\r\n\r\n").encode() + yenc(p))
both("mime_yenc_zip.eml", lambda p: (HDR + "Content-Type: text/plain\r\n\r\n").encode() + yenc(pyzip([("eicar.com", p)]), "x.zip"))

# message/partial (RFC 2046 5.2.2): first fragment of a zip
def partial(p):
    full = (HDR + 'Content-Type: application/zip\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
            b64lines(pyzip([("eicar.com", p)])) + "\r\n")
    frag = full[: len(full) // 2]
    return (HDR + 'Content-Type: message/partial; id="abc@example.com"; number=1; total=2\r\n\r\n' + frag).encode()
both("mime_message_partial.eml", partial)

# ---------------------------------------------------------------- TNEF
def tnef(p, truncate=False):
    def attr(level, aid, data):
        return struct.pack("<BII", level, aid, len(data)) + data + struct.pack("<H", sum(data) & 0xFFFF)
    out = struct.pack("<IH", 0x223E9F78, 0x0001)
    out += attr(1, 0x00089006, struct.pack("<I", 0x00010000))        # attTnefVersion
    out += attr(1, 0x00069007, b"IPM.Microsoft Mail.Note\0")          # attMessageClass
    out += attr(2, 0x00069002, b"\0" * 14)                            # attAttachRendData
    out += attr(2, 0x00018010, b"eicar.com\0")                        # attAttachTitle
    out += attr(2, 0x0006800F, p)                                     # attAttachData
    if truncate:
        out = out[:-30]
    return out
put("ok_tnef.dat", tnef(BENIGN))
put("pos_tnef.dat", tnef(EICAR))
both("tnef_truncated.dat", lambda p: tnef(p + NOISE[:100], truncate=True))

def tnef_mail(p):
    b = "tnefb"
    return (HDR + 'Content-Type: multipart/mixed; boundary="%s"\r\n\r\n--%s\r\n' % (b, b) +
            "Content-Type: text/plain\r\n\r\nhi\r\n--%s\r\n" % b +
            'Content-Type: application/ms-tnef; name="winmail.dat"\r\nContent-Transfer-Encoding: base64\r\n'
            'Content-Disposition: attachment; filename="winmail.dat"\r\n\r\n' + b64lines(tnef(p)) +
            "\r\n--%s--\r\n" % b).encode()
put("pos_mail_tnef.eml", tnef_mail(EICAR))
put("ok_mail_tnef.eml", tnef_mail(BENIGN))

# ---------------------------------------------------------------- resource tests
# needs > 1 MiB of temp space when extracted (tmpfs size=1M)
both("res_zip_2m.zip", lambda p: pyzip([("big.bin", p + NOISE[:4096] + ZEROS2M)]))
both("res_zip_many.zip", lambda p: pyzip([("f%03d.bin" % i, NOISE[:2000] + b"%d" % i) for i in range(60)] + [("eicar.com", p)]))


# ---------------------------------------------------------------- limit tests (run with -m 1048576)
NOISE2M = random.Random(2).randbytes(2 * 1024 * 1024)
both("lim_zip_noise_csize_gt_max.zip", lambda p: pyzip([("big.bin", NOISE2M + p)]))
both("lim_gz_tail.gz", lambda p: gz(ZEROS2M + p))
both("lim_bz2_tail.bz2", lambda p: bz2.compress(ZEROS2M + p))
both("lim_xz_tail.xz", lambda p: lzma.compress(ZEROS2M + p))
both("lim_tar_member_gt_max.tar", lambda p: mktar(ZEROS2M + p, "big.bin"))
both("lim_outer_gt_max.bin", lambda p: p + ZEROS2M)
both("lim_mail_attach_gt_max.eml", lambda p: mail_attach(p + NOISE2M, "big.bin"))
both("res_mail_attach_2m_tail.eml", lambda p: mail_attach(NOISE2M[:1500000] + p, "big.bin"))
both("res_mail_attach_150k_tail.eml", lambda p: mail_attach(NOISE[:150000] + p, "mid.bin"))


# ---------------------------------------------------------------- more structure cases + FP controls
def corrupt_deflate(p):
    data = p + TEXT * 3
    comp = bytearray(deflate_raw(data))
    for i in range(len(comp) - 12, len(comp) - 4):
        comp[i] ^= 0xA5
    return mkzip([dict(name="eicar.com", data=data, comp=bytes(comp))])
both("zip_deflate_corrupt.zip", corrupt_deflate)
def z64(p):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("eicar.com", "w", force_zip64=True) as f:
            f.write(p)
    return b.getvalue()
put("ok_zip64.zip", z64(BENIGN))
put("pos_zip64.zip", z64(EICAR))
put("ok_zip_sfx_prefix.zip", b"MZ" + b"\0" * 4094 + pyzip([("readme.txt", BENIGN)]))
def zcomment(p):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
        z.comment = b"archive comment " * 10
        z.writestr("readme.txt", p)
    return b.getvalue()
put("ok_zip_comment.zip", zcomment(BENIGN))
put("ok_zip_trailing_zeros.zip", pyzip([("readme.txt", BENIGN)]) + b"\0" * 100)
put("ok_gz_multimember.gz", gz(BENIGN) + gz(BENIGN * 3))
put("pos_gz_multimember.gz", gz(BENIGN) + gz(EICAR))
put("ok_tar_no_eof_blocks.tar", mktar(BENIGN)[:512 * 4])
put("ok_bz2_multistream.bz2", bz2.compress(BENIGN) + bz2.compress(BENIGN))

# ---- 7z: ClamAV's own test archive (clam.exe inside), cut short and damaged
SEVENZ = "/usr/share/clamav-testfiles/clam.7z"
if os.path.exists(SEVENZ):
    z7 = open(SEVENZ, "rb").read()
    put("pos_7z.7z", z7)
    put("evil_7z_cut_end.7z", z7[:-20])           # the archive header cut short
    put("evil_7z_cut_half.7z", z7[:len(z7) // 2])
    bad = bytearray(z7)
    bad[-10] ^= 0x55                               # the archive header damaged
    put("evil_7z_header_damaged.7z", bytes(bad))

# ---------------------------------------------------------------- write
os.makedirs(OUT, exist_ok=True)
for f in os.listdir(OUT):
    os.unlink(os.path.join(OUT, f))
names = sorted(files)
for n in names:
    with open(os.path.join(OUT, n), "wb") as fh:
        fh.write(files[n])
    if not n.endswith(".eml"):
        with open(os.path.join(OUT, "mail_" + n + ".eml"), "wb") as fh:
            fh.write(mail_attach(files[n], n))
print("wrote %d files (+%d mail wrappers) to %s" % (len(names), sum(1 for n in names if not n.endswith(".eml")), OUT))
