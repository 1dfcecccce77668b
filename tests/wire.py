"""Protobuf wire-format bytes written by hand, for tests that build files protobuf's
own serializer would never write (over-long varints, bad keys, damaged framing)."""


def encode_varint(n: int, width: int = 0) -> bytes:
    """``n`` as a varint (n < 0: two's complement, 10 bytes), padded to ``width``
    bytes with continuation bits when asked (an over-long encoding: protobuf takes
    keys and lengths of up to 5 bytes and values of up to 10; 11 is malformed)."""
    n &= (1 << 64) - 1 if n < 0 else (1 << 80) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n or len(out) + 1 < width:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def length_delimited(number: int, body: bytes, key_width: int = 0, len_width: int = 0) -> bytes:
    """Field ``number`` holding ``body`` (wire type 2); ``*_width`` pads its key or length."""
    return encode_varint((number << 3) | 2, key_width) + encode_varint(len(body), len_width) + body


def varint_field(number: int, value: int) -> bytes:
    """Field ``number`` holding the varint ``value`` (wire type 0)."""
    return encode_varint(number << 3) + encode_varint(value)
