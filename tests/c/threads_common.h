/* Shared parts of the thread tests (threads.c, hostile_threads.c): the
 * clock, the failure count the threads report into, thread start/join and
 * the gate around handle frees. Include after common.h, with _GNU_SOURCE
 * defined first (pthread_rwlockattr_setkind_np). */
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

/* A stale free is refused only while no new handle lives at the freed
 * address. The library keeps the last 1024 freed handle addresses out of
 * reuse, but a thread preempted between its Free and its stale Free can
 * see more frees than that by the other threads; the allocator (glibc's, or
 * TSan's, which has no quarantine unlike ASan's and valgrind's) then hands
 * the address to another thread's new handle and the stale Free releases
 * that one (seen under TSan: the other thread's next calls failed with
 * VIR_ERR_INVALID_DOMAIN_SNAPSHOT and TSan reported its name string freed
 * under it). So each iteration runs under `gate` read-locked and only the
 * Free + stale Free pair write-locks it: no handle can be created in
 * between. Writers are preferred, or 8 readers would starve them. */
static pthread_rwlock_t gate;
static inline void gate_init(void) {
    pthread_rwlockattr_t a;
    pthread_rwlockattr_init(&a);
    pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&gate, &a);
    pthread_rwlockattr_destroy(&a);
}

/* In a worker holding `gate` read-locked: frees `s` and then the stale
 * handle (refused), with `gate` write-locked, and leaves it unlocked. */
static inline void free_twice(int id, virDomainSnapshotPtr s) {
    pthread_rwlock_unlock(&gate);
    pthread_rwlock_wrlock(&gate);
    TCHECK(virDomainSnapshotFree(s) == 0);
    TCHECK(virDomainSnapshotFree(s) == -1 && virGetLastErrorCode() == VIR_ERR_INVALID_DOMAIN_SNAPSHOT);
    pthread_rwlock_unlock(&gate);
}

/* Runs `fn` on `n` (at most MAX_THREADS) threads, each given its index, and
 * waits for them all. */
static inline void run_threads(int n, void *(*fn)(void *)) {
    pthread_t t[MAX_THREADS];
    for (int i = 0; i < n; i++) pthread_create(&t[i], NULL, fn, (void *)(size_t)i);
    for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
}

/* Runs the workers `fn` on `n` threads around `gate`; the failures
 * of every thread so far count as one failed check. */
static inline void run_workers(int n, void *(*fn)(void *)) {
    gate_init();
    run_threads(n, fn);
    checks++;
    failures += thread_failures;
}
#endif
