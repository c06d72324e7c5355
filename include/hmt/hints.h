/* hmt/hints.h — constants of the tier-hints format shared by the analyzer (which writes
 * tier_hints.json) and the interposer (which reads it). The format itself is specified in
 * hints/HINTS.md with a JSON Schema beside it.
 *
 * Fingerprint: identifies a tensor's bytes when the program copies them to the device.
 *   fp(bytes, n) = XXH64(bytes, min(n, HMT_FP_PREFIX_BYTES), seed = n)
 * i.e. xxh64 (xxHash 0.8, little-endian result as a 64-bit integer) of the first
 * min(n, 64 KiB) bytes, seeded with the total byte size n, so equal prefixes of different
 * sizes differ. Written in JSON as 16 lower-case hex digits. Given for the stored dtype and
 * for F16 and BF16 conversions of float tensors (round to nearest even, as PyTorch).
 */
#ifndef HMT_HINTS_H
#define HMT_HINTS_H

#define HMT_HINTS_FORMAT        "hmt-tier-hints"
#define HMT_HINTS_VERSION       1
#define HMT_FP_PREFIX_BYTES     65536u

#endif
