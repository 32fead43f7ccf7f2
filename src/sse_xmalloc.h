/*
 * sse_xmalloc: allocation that aborts when memory runs out, so callers
 * never carry an out-of-memory path they cannot test.
 */
#ifndef SSE_XMALLOC_H
#define SSE_XMALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif /* SSE_XMALLOC_H */
