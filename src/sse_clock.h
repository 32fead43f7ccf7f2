/*
 * sse_clock: the two clocks the programs read. Timers and timeouts use the
 * monotonic clock, which never jumps; sequence numbers and event ages use
 * the wall clock, since they must mean the same after a restart.
 */
#ifndef SSE_CLOCK_H
#define SSE_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Milliseconds on the monotonic clock. */
static inline int64_t
sse_clock_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds since the Unix epoch. */
static inline int64_t
sse_clock_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Microseconds since the Unix epoch: the scale of sequence numbers. */
static inline uint64_t
sse_clock_wall_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

#endif /* SSE_CLOCK_H */
