/*
 * Tests for sse_map: lookups by exact bytes, growth, removal and walks.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "sse_map.h"

struct item {
    struct sse_map_node node;
    char                key[32];
    int                 seen;
};

Test(sse_map, finds_keys_by_exact_bytes_only)
{
    static const char *const keys[] = { "user1", "user10", "user", "", "a\0b" };
    static const size_t lens[] = { 5, 6, 4, 0, 3 };
    struct item it[5];
    struct sse_map m;

    sse_map_init(&m);
    for (int i = 0; i < 5; i++) {
        memcpy(it[i].key, keys[i], lens[i]);
        sse_map_insert(&m, &it[i].node, it[i].key, lens[i]);
    }
    for (int i = 0; i < 5; i++)
        cr_expect_eq(sse_map_find(&m, keys[i], lens[i]), &it[i].node,
                     "row %d", i);
    cr_expect_null(sse_map_find(&m, "user100", 7));
    cr_expect_null(sse_map_find(&m, "use", 3));
    cr_expect_null(sse_map_find(&m, "a\0c", 3), "bytes after a NUL count");
    cr_expect_eq(m.count, 5);
    sse_map_free(&m);
}

Test(sse_map, grows_and_keeps_every_key)
{
    enum { N = 3000 };
    static struct item it[N];
    struct sse_map m;

    sse_map_init(&m);
    for (int i = 0; i < N; i++) {
        int n = snprintf(it[i].key, sizeof(it[i].key), "k%d", i);

        sse_map_insert(&m, &it[i].node, it[i].key, (size_t)n);
    }
    cr_expect_geq(m.nbuckets, N, "the table grew");
    for (int i = 0; i < N; i++)
        cr_expect_eq(sse_map_find(&m, it[i].key, strlen(it[i].key)),
                     &it[i].node, "row %d", i);
    sse_map_free(&m);
}

Test(sse_map, removal_takes_out_only_that_node)
{
    struct item a, b;
    struct sse_map m;

    sse_map_init(&m);
    strcpy(a.key, "a");
    strcpy(b.key, "b");
    sse_map_insert(&m, &a.node, a.key, 1);
    sse_map_insert(&m, &b.node, b.key, 1);
    sse_map_remove(&m, &a.node);
    cr_expect_null(sse_map_find(&m, "a", 1));
    cr_expect_eq(sse_map_find(&m, "b", 1), &b.node);
    cr_expect_eq(m.count, 1);
    sse_map_free(&m);
}

Test(sse_map, a_walk_visits_every_node_once_even_when_removing)
{
    enum { N = 500 };
    static struct item it[N];
    struct sse_map m;
    struct sse_map_node *n, *next;
    size_t pos = 0;
    int visited = 0;

    sse_map_init(&m);
    for (int i = 0; i < N; i++) {
        int len = snprintf(it[i].key, sizeof(it[i].key), "w%d", i);

        it[i].seen = 0;
        sse_map_insert(&m, &it[i].node, it[i].key, (size_t)len);
    }
    for (n = sse_map_next(&m, NULL, &pos); n != NULL; n = next) {
        struct item *x = sse_map_entry(n, struct item, node);

        next = sse_map_next(&m, n, &pos);
        x->seen++;
        visited++;
        sse_map_remove(&m, n);
    }
    cr_expect_eq(visited, N);
    cr_expect_eq(m.count, 0);
    for (int i = 0; i < N; i++)
        cr_expect_eq(it[i].seen, 1, "row %d", i);
    sse_map_free(&m);
}
