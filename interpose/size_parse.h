/* size_parse.h — the byte-size unit grammar shared by libhmt's HMT_* size options
 * (options.c hmt_parse_size) and the `hmt` command's checks of the same values (tools/check.c).
 *
 * Header-only and self-contained (no libhmt state, no allocation): the `hmt` command does
 * not link libhmt, yet must accept exactly the units libhmt accepts. Each caller keeps its
 * own number grammar (libhmt takes strtod's, `hmt` only plain decimals) and its own rule
 * for what may follow; this holds the part that must never differ between them.
 */
#ifndef HMT_SIZE_PARSE_H
#define HMT_SIZE_PARSE_H

#include <ctype.h>
#include <errno.h>
#include <stdint.h>

/* The optional binary unit at s: K, M, G or T (2^10 .. 2^40; lower case too), then an
 * optional i/I after one of those ("MiB"), then an optional B/b ("12B" is 12 bytes).
 * Sets *mul to the multiplier (1 without a unit) and returns the character after it. */
static inline const char *hmt_size_unit(const char *s, double *mul)
{
    *mul = 1;
    switch (toupper((unsigned char)*s)) {
    case 'K': *mul = 1024.0; s++; break;
    case 'M': *mul = 1024.0 * 1024; s++; break;
    case 'G': *mul = 1024.0 * 1024 * 1024; s++; break;
    case 'T': *mul = 1024.0 * 1024 * 1024 * 1024; s++; break;
    default: break;
    }
    if (*mul > 1 && (*s == 'i' || *s == 'I'))
        s++;
    if (*s == 'B' || *s == 'b')
        s++;
    return s;
}

/* v * mul as a byte count in *out; -ERANGE (and *out untouched) when it is 2^64 or more. */
static inline int hmt_size_bytes(double v, double mul, uint64_t *out)
{
    v *= mul;
    if (v >= 18446744073709551616.0)
        return -ERANGE;
    *out = (uint64_t)v;
    return 0;
}

#endif
