/**
 * hex.h - one hexadecimal digit's value, for the decoders that read them
 * (JSON \uXXXX escapes, grpc-message percent-encoding).
 */
#ifndef VN_CORE_HEX_H
#define VN_CORE_HEX_H

/** The value 0-15 of c in 0-9, a-f, A-F; -1 for any other byte. */
static inline int vn_hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif
