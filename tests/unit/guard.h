/*
 * guard.h: place test input just before an unreadable page, so a parser
 * that reads one byte past its input crashes the test instead of passing.
 */
#ifndef TESTS_GUARD_H
#define TESTS_GUARD_H

#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct guarded {
    char  *map;     /* start of the mapping */
    size_t maplen;  /* bytes mapped, including the guard page */
    char  *p;       /* the copy of the input, ending at the guard page */
};

/* Copy s[0..n) so that its last byte is the last readable byte. */
static inline char *guard_copy(struct guarded *g, const void *s, size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t data_pages = (n + page - 1) / page;

    if (data_pages == 0)
        data_pages = 1;
    g->maplen = (data_pages + 1) * page;
    g->map = mmap(NULL, g->maplen, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g->map == MAP_FAILED)
        return NULL;
    mprotect(g->map + data_pages * page, page, PROT_NONE);
    g->p = g->map + data_pages * page - n;
    if (n > 0)
        memcpy(g->p, s, n);
    return g->p;
}

static inline void guard_free(struct guarded *g)
{
    munmap(g->map, g->maplen);
    g->map = NULL;
}

#endif /* TESTS_GUARD_H */
