"""An image's width and height read from its file header, without decoding its pixels.

OpenCV has no header-only call in Python (cv2.imread with IMREAD_REDUCED_*
still decodes), so the size limit is checked on these few bytes before
`cv2.imdecode` allocates the frame: PNG (IHDR), JPEG (the first SOF marker),
BMP (the DIB header), WebP (VP8, VP8L or VP8X) and TIFF (the first IFD, the
page OpenCV decodes). Anything else, or a header these rules cannot read,
gives None: the decoder then judges the file, and the limit is applied to
the decoded frame.
"""

import struct

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers (baseline, progressive, lossless, ...); C4, C8 and CC are other segments.
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_JPEG_STANDALONE = {0x01, *range(0xD0, 0xD9)}  # markers without a length field (TEM, RSTn, SOI)
_TIFF_WIDTH, _TIFF_HEIGHT = 256, 257


def image_dimensions(path):
    """(width, height) in pixels from the header of an image file, or None when it is of no format read here
    or its header cannot be read. OSError (missing, unreadable) passes through."""
    with open(path, "rb") as file:
        head = file.read(32)
        try:
            if head.startswith(_PNG_SIGNATURE) and head[12:16] == b"IHDR":
                return struct.unpack(">II", head[16:24])
            if head.startswith(b"\xff\xd8"):
                return _jpeg_dimensions(file)
            if head.startswith(b"BM"):
                return _bmp_dimensions(head)
            if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
                return _webp_dimensions(head)
            if head[:4] in (b"II*\x00", b"MM\x00*"):
                return _tiff_dimensions(file, "<" if head[:2] == b"II" else ">")
        except (struct.error, IndexError):  # the header ends early
            return None
    return None


def _jpeg_dimensions(file):
    """(width, height) of the first start-of-frame segment, walking the segments from after SOI."""
    file.seek(2)
    while True:
        byte = file.read(1)
        if byte != b"\xff":
            return None
        marker = file.read(1)
        while marker == b"\xff":  # fill bytes before a marker
            marker = file.read(1)
        if not marker or marker[0] == 0xD9:
            return None
        if marker[0] in _JPEG_STANDALONE:
            continue
        (length,) = struct.unpack(">H", file.read(2))
        if marker[0] in _JPEG_SOF:
            _precision, height, width = struct.unpack(">BHH", file.read(5))
            return width, height
        if length < 2:
            return None
        file.seek(length - 2, 1)


def _bmp_dimensions(head):
    """(width, height) of a BMP's DIB header (OS/2 core header: 16-bit sides; others: signed 32-bit, a negative
    height meaning top-down rows)."""
    (header_size,) = struct.unpack("<I", head[14:18])
    if header_size == 12:
        return struct.unpack("<HH", head[18:22])
    width, height = struct.unpack("<ii", head[18:26])
    return abs(width), abs(height)


def _webp_dimensions(head):
    """(width, height) of a WebP's first chunk: VP8X (24-bit canvas sides - 1), VP8L (14-bit sides - 1) or VP8
    (14-bit sides after the key frame's start code)."""
    chunk = head[12:16]
    if chunk == b"VP8X":
        width = int.from_bytes(head[24:27], "little") + 1
        height = int.from_bytes(head[27:30], "little") + 1
        return (width, height) if len(head) >= 30 else None
    if chunk == b"VP8L" and head[20] == 0x2F:
        (bits,) = struct.unpack("<I", head[21:25])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", head[26:30])
        return width & 0x3FFF, height & 0x3FFF
    return None


def _tiff_dimensions(file, order):
    """(width, height) from the ImageWidth and ImageLength tags of a TIFF's first image file directory."""
    file.seek(4)
    (offset,) = struct.unpack(order + "I", file.read(4))
    file.seek(offset)
    (count,) = struct.unpack(order + "H", file.read(2))
    sides = {}
    for _ in range(count):
        tag, kind, _values, value = struct.unpack(order + "HHI4s", file.read(12))
        if tag in (_TIFF_WIDTH, _TIFF_HEIGHT):
            sides[tag] = struct.unpack(order + ("H" if kind == 3 else "I"), value[:2 if kind == 3 else 4])[0]
    if len(sides) != 2:
        return None
    return sides[_TIFF_WIDTH], sides[_TIFF_HEIGHT]
