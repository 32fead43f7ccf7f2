/*
 * sse_buf: a growable byte buffer with a ceiling.
 *
 * The ceiling bounds unconsumed bytes, so a stream that cannot drain stops
 * growing at a known size. An empty buffer holds no storage at all: the
 * gateway keeps one per idle subscriber, and most of them are empty most of
 * the time. Space consumed at the front is reclaimed by moving the tail down
 * before the storage is allowed to grow.
 */
#include "config.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sse_buf.h"
#include "sse_xmalloc.h"

#define BUF_MIN 256     /* first allocation: one typical event fits */

static void
release(struct sse_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->off = b->len = b->cap = 0;
}

void
sse_buf_init(struct sse_buf *b, size_t max)
{
    b->data = NULL;
    b->off = b->len = b->cap = 0;
    b->max = max;
}

void
sse_buf_free(struct sse_buf *b)
{
    release(b);
}

/* Room for n bytes at the tail, or NULL past the ceiling. */
char *
sse_buf_reserve(struct sse_buf *b, size_t n)
{
    size_t used = b->len - b->off;
    size_t need, cap;

    /* Written as a subtraction so that a huge n cannot wrap around. */
    if (b->max != 0 && (used > b->max || n > b->max - used))
        return NULL;
    if (n > SIZE_MAX - used)
        return NULL;
    need = used + n;

    if (b->data != NULL && b->cap - b->len >= n)
        return b->data + b->len;

    /* Moving the tail down is cheaper than growing, and keeps a queue that
     * is drained as fast as it is filled at a constant size. */
    if (b->off > 0) {
        memmove(b->data, b->data + b->off, used);
        b->off = 0;
        b->len = used;
        if (b->cap >= need)
            return b->data + b->len;
    }

    cap = b->cap > BUF_MIN ? b->cap : BUF_MIN;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    /* Doubling must not allocate more than the ceiling allows to be used. */
    if (b->max != 0 && cap > b->max)
        cap = b->max > need ? b->max : need;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
    return b->data + b->len;
}

void
sse_buf_commit(struct sse_buf *b, size_t n)
{
    assert(n <= b->cap - b->len);
    b->len += n;
    /* A reservation that was not used must not keep storage alive. */
    if (b->len == b->off)
        release(b);
}

int
sse_buf_append(struct sse_buf *b, const void *p, size_t n)
{
    char *dst;

    if (n == 0)
        return 0;
    if ((dst = sse_buf_reserve(b, n)) == NULL)
        return -1;
    memcpy(dst, p, n);
    sse_buf_commit(b, n);
    return 0;
}

int
sse_buf_puts(struct sse_buf *b, const char *s)
{
    return sse_buf_append(b, s, strlen(s));
}

void
sse_buf_consume(struct sse_buf *b, size_t n)
{
    assert(n <= b->len - b->off);
    b->off += n;
    if (b->off == b->len)
        release(b);
}

void
sse_buf_truncate(struct sse_buf *b, size_t n)
{
    assert(n <= b->len - b->off);
    b->len -= n;
    if (b->off == b->len)
        release(b);
}
