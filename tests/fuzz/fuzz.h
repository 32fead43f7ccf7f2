/*
 * fuzz.h: what the libFuzzer targets in tests/fuzz share.
 *
 * FUZZ_CHECK states a property and aborts with a message when it fails, so
 * libFuzzer saves the input as a crash; assert would vanish under NDEBUG.
 * The copies are exact-size heap blocks, so AddressSanitizer catches a read
 * one byte past any field, not only past the whole input. The ref_ helpers
 * are small, independent readings of the contracts in the src headers, written
 * differently from the code they check (UTF-8 by decoding code points, not
 * by byte ranges), so that a target can compare answers, not only survive.
 */
#ifndef SSE_FUZZ_H
#define SSE_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with file, line, the condition and a printf-style note. */
#define FUZZ_CHECK(cond, ...)                                              \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "%s:%d: property failed: %s: ", __FILE__,      \
                    __LINE__, #cond);                                      \
            fprintf(stderr, __VA_ARGS__);                                  \
            fputc('\n', stderr);                                           \
            abort();                                                       \
        }                                                                  \
    } while (0)

/* n bytes (at least one is allocated); never NULL. */
static inline char *
fuzz_malloc(size_t n)
{
    char *s = malloc(n > 0 ? n : 1);

    if (s == NULL)
        abort();
    return s;
}

/* An exact-size copy of p[0..n) (at least one byte is allocated). */
static inline char *
fuzz_memdup(const void *p, size_t n)
{
    char *s = fuzz_malloc(n);

    if (n > 0)
        memcpy(s, p, n);
    return s;
}

/* A NUL-terminated copy of p[0..n), exactly n + 1 bytes. */
static inline char *
fuzz_strdup(const void *p, size_t n)
{
    char *s = fuzz_malloc(n + 1);

    if (n > 0)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* Split p[0..n) at NUL bytes into at most max pieces (the last one takes
 * the rest, NULs and all). Returns the number of pieces: 0 for empty input,
 * else one more than the NULs used as separators. */
static inline size_t
fuzz_split(const uint8_t *p, size_t n, size_t max, const uint8_t **piece,
           size_t *len)
{
    size_t k = 0, start = 0;

    if (n == 0 || max == 0)
        return 0;
    for (size_t i = 0; i < n && k + 1 < max; i++) {
        if (p[i] == '\0') {
            piece[k] = p + start;
            len[k++] = i - start;
            start = i + 1;
        }
    }
    piece[k] = p + start;
    len[k++] = n - start;
    return k;
}

/* ---- reference readings of the contracts --------------------------------- */

/* UTF-8 by decoding: a code point must use the shortest form, lie outside
 * the surrogates and not pass U+10FFFF. */
static inline int
ref_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < n) {
        unsigned c = p[i];
        size_t len;
        uint32_t cp, min;

        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xe0) == 0xc0) {
            len = 2, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (n - i < len)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (p[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += len;
    }
    return 1;
}

/* 1 if s[0..n) holds no CR, LF or NUL. */
static inline int
ref_no_break(const char *s, size_t n)
{
    return memchr(s, '\r', n) == NULL && memchr(s, '\n', n) == NULL &&
        memchr(s, '\0', n) == NULL;
}

/* An id as sse_event.h allows it: empty is fine. */
static inline int
ref_id_ok(const char *s, size_t n, size_t id_max)
{
    return n <= id_max && ref_no_break(s, n) && ref_utf8_valid(s, n);
}

/* A key as sse_key.h describes it. */
static inline int
ref_key_ok(const char *s, size_t n, size_t key_max)
{
    static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                              "abcdefghijklmnopqrstuvwxyz"
                              "0123456789-_.:@~+=";

    if (n == 0 || n > key_max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (memchr(set, s[i], sizeof set - 1) == NULL)
            return 0;
    return 1;
}

/* The value of hex digit c, or -1. */
static inline int
ref_hex(char c)
{
    static const char lower[] = "0123456789abcdef";
    static const char upper[] = "0123456789ABCDEF";
    const char *p;

    if ((p = memchr(lower, c, 16)) != NULL)
        return (int)(p - lower);
    if ((p = memchr(upper, c, 16)) != NULL)
        return (int)(p - upper);
    return -1;
}

/* Percent-decoding as sse_query.h describes it: "%XX" is a byte, '+' a
 * space. Returns the decoded length, or -1 for a malformed escape. */
static inline long
ref_pct_decode(const char *in, size_t n, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        if (in[i] != '%') {
            out[o++] = in[i] == '+' ? ' ' : in[i];
            continue;
        }
        if (i + 2 >= n || ref_hex(in[i + 1]) < 0 || ref_hex(in[i + 2]) < 0)
            return -1;
        out[o++] = (char)(ref_hex(in[i + 1]) * 16 + ref_hex(in[i + 2]));
        i += 2;
    }
    return (long)o;
}

#endif /* SSE_FUZZ_H */
