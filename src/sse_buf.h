/*
 * sse_buf: a growable byte buffer with a ceiling.
 *
 * Every queue in the gateway is one of these, so a slow client fills its
 * own buffer up to its ceiling and never the heap. Bytes are appended at the
 * end and consumed from the front; the front offset keeps partial writes
 * cheap, and space is reclaimed when the buffer empties or must grow.
 */
#ifndef SSE_BUF_H
#define SSE_BUF_H

#include <stddef.h>

struct sse_buf {
    char  *data;    /* storage, NULL until the first append */
    size_t off;     /* start of unconsumed bytes */
    size_t len;     /* end of unconsumed bytes (off <= len <= cap) */
    size_t cap;     /* allocated size */
    size_t max;     /* ceiling on unconsumed bytes; 0 means no ceiling */
};

/* Set b up empty with ceiling max (0: unlimited). Allocates nothing. */
void sse_buf_init(struct sse_buf *b, size_t max);

/* Free b's storage and leave it empty with the same ceiling. */
void sse_buf_free(struct sse_buf *b);

/* Pointer to the first unconsumed byte (may be NULL when empty). */
static inline const char *sse_buf_head(const struct sse_buf *b)
{
    return b->data ? b->data + b->off : NULL;
}

/* Number of unconsumed bytes. */
static inline size_t sse_buf_len(const struct sse_buf *b)
{
    return b->len - b->off;
}

/* Append n bytes. Returns 0, or -1 if the unconsumed bytes would pass the
 * ceiling (b is left unchanged). Aborts if memory runs out. */
int sse_buf_append(struct sse_buf *b, const void *p, size_t n);

/* Append a NUL-terminated string; as sse_buf_append. */
int sse_buf_puts(struct sse_buf *b, const char *s);

/* Make room for n more bytes and return a pointer to them, or NULL if the
 * ceiling would be passed. The caller writes up to n bytes there and then
 * calls sse_buf_commit with the number written. */
char *sse_buf_reserve(struct sse_buf *b, size_t n);
void sse_buf_commit(struct sse_buf *b, size_t n);

/* Drop every byte but keep the storage, for a buffer that is filled and
 * sent again and again (an encoding scratch). */
static inline void
sse_buf_clear(struct sse_buf *b)
{
    b->off = b->len = 0;
}

/* Drop the first n unconsumed bytes (n <= sse_buf_len). Storage is released
 * when the buffer becomes empty, so idle buffers cost nothing. */
void sse_buf_consume(struct sse_buf *b, size_t n);

/* Drop the last n unconsumed bytes (n <= sse_buf_len): undoes appends. */
void sse_buf_truncate(struct sse_buf *b, size_t n);

#endif /* SSE_BUF_H */
