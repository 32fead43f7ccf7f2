/*
 * sse_stamp: stamped benchmark payloads and their sequence accounting.
 *
 * While every seq so far arrived in order, "received" is simply 1..high and
 * needs no storage. The first gap creates a bitmap of the seqs seen, which
 * tells a late arrival from a duplicate; once the gaps are all filled
 * (distinct == high) the bitmap goes again.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse_stamp.h"
#include "sse_xmalloc.h"

size_t
sse_stamp_encode(char *out, size_t cap, uint64_t t_us, uint32_t seq,
                 const char *key, size_t key_len, size_t size)
{
    int n;

    if (key_len == 0 || key_len > SSE_STAMP_KEY_MAX ||
        memchr(key, ' ', key_len) != NULL)
        return 0;
    n = snprintf(out, cap, "%llu %lu %.*s", (unsigned long long)t_us,
                 (unsigned long)seq, (int)key_len, key);
    if (n < 0 || (size_t)n >= cap)
        return 0;
    if (size > (size_t)n) {
        if (size > cap)
            return 0;
        out[n] = ' ';
        memset(out + n + 1, 'x', size - (size_t)n - 1);
        return size;
    }
    return (size_t)n;
}

/* Read 1 to maxd digits at *i into *v. */
static int
digits(const char *s, size_t len, size_t *i, unsigned maxd, uint64_t *v)
{
    size_t start = *i;

    *v = 0;
    while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
        if (*i - start == maxd)
            return -1;
        *v = *v * 10 + (uint64_t)(s[*i] - '0');
        (*i)++;
    }
    return *i > start ? 0 : -1;
}

int
sse_stamp_decode(const char *data, size_t len, struct sse_stamp *st)
{
    size_t i = 0, k;
    uint64_t t, seq;

    /* 19 digits cannot overflow 64 bits, and reach far past year 2100. */
    if (digits(data, len, &i, 19, &t) != 0 || i == len || data[i++] != ' ')
        return -1;
    if (digits(data, len, &i, 10, &seq) != 0 || seq == 0 ||
        seq > UINT32_MAX || i == len || data[i++] != ' ')
        return -1;
    k = i;
    while (i < len && data[i] != ' ')
        i++;
    if (i == k || i - k > SSE_STAMP_KEY_MAX)
        return -1;
    st->t_us = t;
    st->seq = (uint32_t)seq;
    st->key = data + k;
    st->key_len = i - k;
    return 0;
}

static int
test_bit(const struct sse_stamp_seq *s, uint32_t seq)
{
    return seq < s->nbits && (s->seen[seq >> 3] >> (seq & 7) & 1);
}

/* Mark seq seen, growing the bitmap (bit i is seq i) to hold it. */
static void
set_bit(struct sse_stamp_seq *s, uint32_t seq, uint32_t limit)
{
    if (seq >= s->nbits) {
        uint64_t want = (uint64_t)s->nbits * 2;
        uint32_t bytes;

        if (want <= seq)
            want = (uint64_t)seq + 1;
        if (want < 64)
            want = 64;
        if (want > (uint64_t)limit + 1)
            want = (uint64_t)limit + 1;
        bytes = (uint32_t)((want + 7) / 8);
        s->seen = xrealloc(s->seen, bytes);
        memset(s->seen + (s->nbits + 7) / 8, 0,
               bytes - (s->nbits + 7) / 8);
        s->nbits = bytes * 8;
    }
    s->seen[seq >> 3] |= (uint8_t)(1u << (seq & 7));
}

enum sse_stamp_verdict
sse_stamp_seq_add(struct sse_stamp_seq *s, uint32_t seq, uint32_t limit)
{
    enum sse_stamp_verdict v;
    uint32_t i;

    if (seq == 0 || seq > limit)
        return SSE_STAMP_INVALID;
    if (s->seen == NULL) {
        if (seq <= s->high)
            return SSE_STAMP_DUPLICATE;
        if (seq == s->high + 1) {
            s->high = seq;
            s->distinct++;
            return SSE_STAMP_IN_ORDER;
        }
        /* The first gap: from here on, remember each seq. */
        for (i = 1; i <= s->high; i++)
            set_bit(s, i, limit);
    }
    if (test_bit(s, seq))
        return SSE_STAMP_DUPLICATE;
    set_bit(s, seq, limit);
    s->distinct++;
    if (seq < s->high) {
        v = SSE_STAMP_LATE;
    } else {
        v = seq == s->high + 1 ? SSE_STAMP_IN_ORDER : SSE_STAMP_GAP;
        s->high = seq;
    }
    if (s->distinct == s->high) {
        /* No gap left: 1..high again says it all. */
        free(s->seen);
        s->seen = NULL;
        s->nbits = 0;
    }
    return v;
}

void
sse_stamp_seq_free(struct sse_stamp_seq *s)
{
    free(s->seen);
    memset(s, 0, sizeof(*s));
}
