"""Tiny, valid audio files for the emulator's text-to-speech route: WAV, MP3, AAC (ADTS), Ogg Opus
and FLAC, each a real file of its format that players and decoders accept (silence or a quiet tone),
built deterministically from the PCM or the length `_media.speech_audio` gives.
"""

from __future__ import annotations

import math
import struct
from functools import lru_cache

SAMPLE_RATE = 24_000  # what OpenAI's TTS models produce (and what `pcm` is documented to carry)


def wav_file(pcm: bytes) -> bytes:
    """A RIFF/WAVE file around 16-bit mono PCM at 24 kHz."""
    fmt = struct.pack("<HHIIHH", 1, 1, SAMPLE_RATE, SAMPLE_RATE * 2, 2, 16)
    return (
        b"RIFF"
        + struct.pack("<I", 36 + len(pcm))
        + b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", len(pcm))
        + pcm
    )


def _syncsafe(n: int) -> bytes:
    return bytes(((n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F))


def mp3_file(seconds: float) -> bytes:
    """An ID3v2.4 tag, then silent MPEG-1 Layer III frames (48 kHz, 128 kbit/s, mono).

    A frame with all-zero side info and no main data decodes to 1152 samples of silence; at these
    rates each frame is exactly 144 * 128000 / 48000 = 384 bytes, so no padding bit is ever needed.
    """
    text = b"\x03instructor-az emulator"  # encoding byte 3: UTF-8
    frame = b"TSSE" + _syncsafe(len(text)) + b"\x00\x00" + text
    tag = b"ID3\x04\x00\x00" + _syncsafe(len(frame)) + frame
    header = bytes((0xFF, 0xFB, 0x94, 0xC4))  # sync, MPEG-1 L3 no CRC; 128k, 48k; mono, original
    mpeg = header + bytes(384 - len(header))
    return tag + mpeg * max(math.ceil(seconds * 48_000 / 1152), 1)


class _Bits:
    """Big-endian bit writer (for the ADTS and FLAC headers)."""

    def __init__(self) -> None:
        self.value = 0
        self.length = 0

    def put(self, value: int, width: int) -> None:
        self.value = (self.value << width) | (value & ((1 << width) - 1))
        self.length += width

    def bytes(self) -> bytes:
        pad = -self.length % 8
        return (self.value << pad).to_bytes((self.length + pad) // 8, "big")


def adts_aac_file(seconds: float) -> bytes:
    """Silent AAC-LC frames in ADTS (24 kHz mono), one per 1024 samples.

    Each raw block is a single channel element with max_sfb 0 (no spectral data) then ID_END:
    29 + 3 bits, i.e. the four bytes 00 00 00 07.
    """
    raw = b"\x00\x00\x00\x07"
    bits = _Bits()
    bits.put(0xFFF, 12)  # syncword
    bits.put(0, 1)  # MPEG-4
    bits.put(0, 2)  # layer
    bits.put(1, 1)  # protection absent: no CRC
    bits.put(1, 2)  # profile: AAC LC (object type 2, minus one)
    bits.put(6, 4)  # sampling frequency index 6: 24000 Hz
    bits.put(0, 1)  # private
    bits.put(1, 3)  # channel configuration: mono
    bits.put(0, 4)  # original/copy, home, copyright bits
    bits.put(7 + len(raw), 13)  # frame length, header included
    bits.put(0x7FF, 11)  # buffer fullness: variable bitrate
    bits.put(0, 2)  # one raw data block
    frame = bits.bytes() + raw
    return frame * max(math.ceil(seconds * SAMPLE_RATE / 1024), 1)


@lru_cache(maxsize=1)
def _ogg_crc_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        crc = i << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return tuple(table)


def _ogg_crc(data: bytes) -> int:
    # Ogg's CRC-32: polynomial 0x04C11DB7, not reflected, initial value 0 (unlike zlib's).
    table, crc = _ogg_crc_table(), 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ table[((crc >> 24) ^ byte) & 0xFF]
    return crc


def _ogg_page(packets: list[bytes], *, sequence: int, granule: int, flags: int) -> bytes:
    lacing = bytearray()
    for packet in packets:
        lacing += b"\xff" * (len(packet) // 255) + bytes((len(packet) % 255,))
    header = b"OggS" + struct.pack("<BBqIIIB", 0, flags, granule, 0x454D55, sequence, 0, len(lacing))
    page = header + bytes(lacing) + b"".join(packets)
    return page[:22] + struct.pack("<I", _ogg_crc(page)) + page[26:]


def ogg_opus_file(seconds: float) -> bytes:
    """Ogg Opus: the OpusHead and OpusTags pages, then 20 ms silent CELT frames (F8 FF FE)."""
    pre_skip = 312
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, pre_skip, SAMPLE_RATE, 0, 0)
    vendor = b"instructor-az emulator"
    tags = b"OpusTags" + struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", 0)
    frames = max(math.ceil(seconds / 0.02), 1)
    return (
        _ogg_page([head], sequence=0, granule=0, flags=0x02)
        + _ogg_page([tags], sequence=1, granule=0, flags=0)
        + _ogg_page([b"\xf8\xff\xfe"] * frames, sequence=2, granule=frames * 960, flags=0x04)
    )


def _crc8(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def _crc16(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def flac_file(pcm: bytes) -> bytes:
    """FLAC with one VERBATIM (uncompressed) subframe per 4096-sample block: valid, simple, small."""
    samples = struct.unpack(f"<{len(pcm) // 2}h", pcm)
    block = 4096
    info = _Bits()
    info.put(block, 16)  # min block size
    info.put(block, 16)  # max block size
    info.put(0, 24)  # min frame size: unknown
    info.put(0, 24)  # max frame size: unknown
    info.put(SAMPLE_RATE, 20)
    info.put(0, 3)  # channels - 1
    info.put(15, 5)  # bits per sample - 1
    info.put(len(samples), 36)
    streaminfo = info.bytes() + bytes(16)  # MD5 of the audio: zero means not computed
    out = bytearray(b"fLaC" + bytes((0x80,)) + len(streaminfo).to_bytes(3, "big") + streaminfo)
    for number, start in enumerate(range(0, len(samples), block)):
        chunk = samples[start : start + block]
        head = _Bits()
        head.put(0b11111111111110, 14)  # sync code
        head.put(0, 1)  # reserved
        head.put(0, 1)  # fixed block size
        head.put(0b0111, 4)  # block size: 16-bit (size - 1) at the end of the header
        head.put(0b0000, 4)  # sample rate: from STREAMINFO
        head.put(0b0000, 4)  # one channel
        head.put(0b100, 3)  # 16 bits per sample
        head.put(0, 1)  # reserved
        header = head.bytes() + _utf8_number(number) + struct.pack(">H", len(chunk) - 1)
        header += bytes((_crc8(header),))
        subframe = b"\x02" + struct.pack(f">{len(chunk)}h", *chunk)  # type 000001: VERBATIM
        frame = header + subframe
        out += frame + struct.pack(">H", _crc16(frame))
    return bytes(out)


def _utf8_number(n: int) -> bytes:
    # FLAC codes frame numbers like UTF-8 code points (our files stay far below the 2-byte limit).
    return chr(n).encode("utf-8")
