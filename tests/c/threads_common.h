/* Shared parts of the thread tests (threads.c, hostile_threads.c): the
 * clock, the failure count the threads report into, thread start/join and
 * the double free. Include after common.h. */
#ifndef VIRSNAP_TEST_THREADS_COMMON_H
#define VIRSNAP_TEST_THREADS_COMMON_H
#include <pthread.h>
#include <time.h>

#define MAX_THREADS 64
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long ops_total;
static int thread_failures;

/* Monotonic seconds. */
static inline double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* In a thread with an `int id`: one failure, counted under `lock`. */
#define TFAIL(what) do { pthread_mutex_lock(&lock); thread_failures++; \
    fprintf(stderr, "FAIL thread %d line %d: %s (%d: %s)\n", id, __LINE__, what, virGetLastErrorCode(), \
            virGetLastErrorMessage()); pthread_mutex_unlock(&lock); } while (0)
#define TCHECK(cond) do { if (!(cond)) TFAIL(#cond); } while (0)

/* Adds a thread's operation count to the total. */
static inline void add_ops(long ops) {
    pthread_mutex_lock(&lock);
    ops_total += ops;
    pthread_mutex_unlock(&lock);
}

/* Frees `s`, then frees it again: the stale pointer is refused while the
 * other threads create, list and free handles, however many come and go in
 * between (handle keys are never reused; before they were, a new handle at
 * the freed address could be released by a stale free). */
static inline void free_twice(int id, virDomainSnapshotPtr s) {
    TCHECK(virDomainSnapshotFree(s) == 0);
    TCHECK(virDomainSnapshotFree(s) == -1 && virGetLastErrorCode() == VIR_ERR_INVALID_DOMAIN_SNAPSHOT);
}

/* Runs `fn` on `n` (at most MAX_THREADS) threads, each given its index, and
 * waits for them all. */
static inline void run_threads(int n, void *(*fn)(void *)) {
    pthread_t t[MAX_THREADS];
    for (int i = 0; i < n; i++) pthread_create(&t[i], NULL, fn, (void *)(size_t)i);
    for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
}

/* Runs the workers `fn` on `n` threads; the failures of every thread so
 * far count as one failed check. */
static inline void run_workers(int n, void *(*fn)(void *)) {
    run_threads(n, fn);
    checks++;
    failures += thread_failures;
}
#endif
