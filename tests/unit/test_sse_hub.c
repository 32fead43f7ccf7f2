/*
 * Tests for sse_hub: exact key routing, first/last callbacks, and removal
 * during a walk.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "sse_hub.h"

struct calls {
    int  first;
    int  last;
    char key[64];   /* key of the latest callback */
};

static void
on_first(const char *key, size_t len, void *arg)
{
    struct calls *c = arg;

    c->first++;
    snprintf(c->key, sizeof(c->key), "%.*s", (int)len, key);
}

static void
on_last(const char *key, size_t len, void *arg)
{
    struct calls *c = arg;

    c->last++;
    snprintf(c->key, sizeof(c->key), "%.*s", (int)len, key);
}

struct seen {
    int    n;
    void  *owners[64];
};

static void
collect(struct sse_sub *sub, void *arg)
{
    struct seen *s = arg;

    s->owners[s->n++] = sub->owner;
}

Test(sse_hub, first_subscriber_and_last_leaver_trigger_callbacks)
{
    struct calls c = { 0 };
    struct sse_hub *h = sse_hub_new(on_first, on_last, &c);
    struct sse_sub a = { 0 }, b = { 0 };

    sse_hub_add(h, &a, "user1", 5, &a);
    cr_expect_eq(c.first, 1);
    cr_expect_str_eq(c.key, "user1");
    sse_hub_add(h, &b, "user1", 5, &b);
    cr_expect_eq(c.first, 1, "a second subscriber must not subscribe again");
    sse_hub_remove(h, &a);
    cr_expect_eq(c.last, 0, "one subscriber is left");
    sse_hub_remove(h, &b);
    cr_expect_eq(c.last, 1);
    cr_expect_eq(sse_hub_keys(h), 0, "the key's entry is freed");
    sse_hub_destroy(&h);
    cr_expect_null(h);
}

Test(sse_hub, user1_never_matches_user10)
{
    struct sse_hub *h = sse_hub_new(NULL, NULL, NULL);
    struct sse_sub a = { 0 }, b = { 0 }, c = { 0 };
    struct seen s = { 0 };

    sse_hub_add(h, &a, "user1", 5, &a);
    sse_hub_add(h, &b, "user10", 6, &b);
    sse_hub_add(h, &c, "user", 4, &c);
    cr_expect_eq(sse_hub_foreach(h, "user1", 5, collect, &s), 1);
    cr_expect_eq(s.owners[0], &a);
    s.n = 0;
    cr_expect_eq(sse_hub_foreach(h, "user10", 6, collect, &s), 1);
    cr_expect_eq(s.owners[0], &b);
    cr_expect_eq(sse_hub_count(h, "user100", 7), 0);
    cr_expect_eq(sse_hub_count(h, "use", 3), 0);
    sse_hub_destroy(&h);
}

Test(sse_hub, subscribers_are_visited_in_join_order)
{
    struct sse_hub *h = sse_hub_new(NULL, NULL, NULL);
    struct sse_sub subs[5] = { 0 };
    struct seen s = { 0 };

    for (int i = 0; i < 5; i++)
        sse_hub_add(h, &subs[i], "k", 1, &subs[i]);
    sse_hub_remove(h, &subs[2]);
    cr_expect_eq(sse_hub_foreach(h, "k", 1, collect, &s), 4);
    cr_expect_eq(s.owners[0], &subs[0]);
    cr_expect_eq(s.owners[1], &subs[1]);
    cr_expect_eq(s.owners[2], &subs[3]);
    cr_expect_eq(s.owners[3], &subs[4]);
    sse_hub_destroy(&h);
}

struct walk {
    struct sse_hub *h;
    int             visited;
};

static void
remove_self(struct sse_sub *sub, void *arg)
{
    struct walk *w = arg;

    w->visited++;
    sse_hub_remove(w->h, sub);
}

Test(sse_hub, a_walk_may_remove_every_subscriber_it_visits)
{
    struct calls c = { 0 };
    struct sse_hub *h = sse_hub_new(on_first, on_last, &c);
    struct sse_sub subs[4] = { 0 };
    struct walk w = { h, 0 };

    for (int i = 0; i < 4; i++)
        sse_hub_add(h, &subs[i], "k", 1, &subs[i]);
    cr_expect_eq(sse_hub_foreach(h, "k", 1, remove_self, &w), 4);
    cr_expect_eq(w.visited, 4);
    cr_expect_eq(c.last, 1);
    cr_expect_eq(sse_hub_keys(h), 0, "the entry is freed after the walk");
    for (int i = 0; i < 4; i++)
        cr_expect_null(subs[i].key, "sub %d is detached", i);
    sse_hub_destroy(&h);
}

static void
add_late(struct sse_sub *sub, void *arg)
{
    static struct sse_sub late;
    struct walk *w = arg;

    (void)sub;
    if (w->visited++ == 0)
        sse_hub_add(w->h, &late, "k", 1, &late);
}

Test(sse_hub, a_subscriber_added_during_a_walk_waits_for_the_next_one)
{
    struct sse_hub *h = sse_hub_new(NULL, NULL, NULL);
    struct sse_sub a = { 0 };
    struct walk w = { h, 0 };

    sse_hub_add(h, &a, "k", 1, &a);
    cr_expect_eq(sse_hub_foreach(h, "k", 1, add_late, &w), 1);
    cr_expect_eq(sse_hub_count(h, "k", 1), 2);
    sse_hub_destroy(&h);
}

Test(sse_hub, many_keys_survive_growth)
{
    enum { N = 5000 };
    static struct sse_sub subs[N];
    struct sse_hub *h = sse_hub_new(NULL, NULL, NULL);
    char key[32];

    for (int i = 0; i < N; i++) {
        int n = snprintf(key, sizeof(key), "key%d", i);

        sse_hub_add(h, &subs[i], key, (size_t)n, &subs[i]);
    }
    cr_expect_eq(sse_hub_keys(h), N);
    for (int i = 0; i < N; i++) {
        int n = snprintf(key, sizeof(key), "key%d", i);

        cr_expect_eq(sse_hub_count(h, key, (size_t)n), 1, "row %d", i);
    }
    for (int i = 0; i < N; i += 2)
        sse_hub_remove(h, &subs[i]);
    cr_expect_eq(sse_hub_keys(h), N / 2);
    cr_expect_eq(sse_hub_count(h, "key1", 4), 1);
    cr_expect_eq(sse_hub_count(h, "key2", 4), 0);
    sse_hub_destroy(&h);
}

Test(sse_hub, removing_a_detached_sub_does_nothing)
{
    struct sse_hub *h = sse_hub_new(NULL, NULL, NULL);
    struct sse_sub a = { 0 };

    sse_hub_remove(h, &a);
    sse_hub_add(h, &a, "k", 1, &a);
    sse_hub_remove(h, &a);
    sse_hub_remove(h, &a);
    cr_expect_eq(sse_hub_keys(h), 0);
    sse_hub_destroy(&h);
}

struct tally {
    size_t keys;
    size_t subs;
};

static void
count_key(const char *key, size_t len, size_t count, void *arg)
{
    struct tally *t = arg;

    (void)key;
    (void)len;
    t->keys++;
    t->subs += count;
}

Test(sse_hub, each_key_visits_keys_with_their_counts)
{
    struct sse_hub *h = sse_hub_new(NULL, NULL, NULL);
    struct sse_sub s[5] = { 0 };
    struct tally t = { 0 };

    sse_hub_add(h, &s[0], "a", 1, &s[0]);
    sse_hub_add(h, &s[1], "a", 1, &s[1]);
    sse_hub_add(h, &s[2], "b", 1, &s[2]);
    sse_hub_add(h, &s[3], "c", 1, &s[3]);
    sse_hub_remove(h, &s[3]);
    sse_hub_each_key(h, count_key, &t);
    cr_expect_eq(t.keys, 2, "a key left empty is gone");
    cr_expect_eq(t.subs, 3);
    sse_hub_destroy(&h);
}
