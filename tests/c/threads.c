/* Threads: (1) each thread has its own last error; (2) 8 threads share one
 * connection, one domain handle and one snapshot handle, mixing
 * create/list/lookup/revert/delete/ref/free for N seconds (argv[1], default
 * 10; the suite's long run uses VIRSNAP_THREADS_SECONDS=30). Any unexpected
 * error fails the test. */
#define _GNU_SOURCE /* pthread_rwlockattr_setkind_np */
#define _POSIX_C_SOURCE 200809L
#include "common.h"
#include <pthread.h>
#include <time.h>

static virConnectPtr conn;
static virDomainPtr dom;
static virDomainSnapshotPtr base;
static double seconds = 10;
static pthread_barrier_t barrier;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long ops_total;
static int thread_failures;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

#define TCHECK(cond) do { if (!(cond)) { pthread_mutex_lock(&lock); thread_failures++; \
    fprintf(stderr, "FAIL thread %d line %d: %s (%s)\n", id, __LINE__, #cond, virGetLastErrorMessage()); \
    pthread_mutex_unlock(&lock); } } while (0)

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
static void gate_init(void) {
    pthread_rwlockattr_t a;
    pthread_rwlockattr_init(&a);
    pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&gate, &a);
    pthread_rwlockattr_destroy(&a);
}

static void *own_error(void *arg) {
    int id = (int)(size_t)arg;
    if (id == 0) TCHECK(virDomainSnapshotLookupByName(dom, "nope-0", 0) == NULL);
    else TCHECK(virDomainGetName(NULL) == NULL);
    pthread_barrier_wait(&barrier);
    virErrorPtr e = virGetLastError();
    if (id == 0) TCHECK(e && e->code == VIR_ERR_NO_DOMAIN_SNAPSHOT && strstr(e->message, "nope-0"));
    else TCHECK(e && e->code == VIR_ERR_INVALID_DOMAIN);
    pthread_barrier_wait(&barrier);
    return NULL;
}

static void *worker(void *arg) {
    int id = (int)(size_t)arg;
    long ops = 0;
    double end = now() + seconds;
    char name[64], xml[256];
    for (long it = 0; now() < end; it++) {
        snprintf(name, sizeof name, "t%d-%ld", id, it);
        snprintf(xml, sizeof xml, "<domainsnapshot><name>%s</name></domainsnapshot>", name);
        pthread_rwlock_rdlock(&gate);
        virDomainSnapshotPtr s = virDomainSnapshotCreateXML(dom, xml, 0);
        TCHECK(s != NULL);
        if (!s) { pthread_rwlock_unlock(&gate); continue; }
        TCHECK(strcmp(virDomainSnapshotGetName(s), name) == 0);
        virDomainSnapshotPtr l = virDomainSnapshotLookupByName(dom, name, 0);
        TCHECK(l && l != s);
        TCHECK(virDomainSnapshotNum(dom, 0) >= 2);
        virDomainSnapshotPtr *all = NULL;
        int n = virDomainListAllSnapshots(dom, &all, 0);
        TCHECK(n >= 2 && all && all[n] == NULL);
        for (int i = 0; i < n; i++) TCHECK(virDomainSnapshotFree(all[i]) == 0);
        free(all);
        char *names[16];
        n = virDomainSnapshotListNames(dom, names, 16, 0);
        TCHECK(n >= 2);
        for (int i = 0; i < n && i < 16; i++) free(names[i]);
        /* the shared handles */
        TCHECK(virDomainSnapshotRef(base) == 0);
        TCHECK(strcmp(virDomainSnapshotGetName(base), "base") == 0);
        TCHECK(virDomainSnapshotGetDomain(base) == dom);
        TCHECK(virDomainRef(dom) == 0 && virConnectRef(conn) == 0);
        if (it % 4 == 0) TCHECK(virDomainRevertToSnapshot(base, 0) == 0);
        char *x = virDomainSnapshotGetXMLDesc(base, 0);
        TCHECK(x != NULL);
        free(x);
        TCHECK(virDomainSnapshotFree(base) == 0);
        TCHECK(virDomainFree(dom) == 0 && virConnectClose(conn) >= 1);
        /* own snapshot: delete through one handle, the other sees it gone */
        TCHECK(virDomainSnapshotDelete(s, 0) == 0);
        TCHECK(virDomainSnapshotIsCurrent(l, 0) == -1 && virGetLastErrorCode() == VIR_ERR_NO_DOMAIN_SNAPSHOT);
        TCHECK(virDomainSnapshotFree(l) == 0);
        pthread_rwlock_unlock(&gate);
        pthread_rwlock_wrlock(&gate);
        TCHECK(virDomainSnapshotFree(s) == 0);
        TCHECK(virDomainSnapshotFree(s) == -1);
        pthread_rwlock_unlock(&gate);
        ops += 16;
    }
    pthread_mutex_lock(&lock);
    ops_total += ops;
    pthread_mutex_unlock(&lock);
    return NULL;
}

int main(int argc, char **argv) {
    virSetErrorFunc(NULL, quiet_handler);
    if (argc > 1) seconds = atof(argv[1]);
    conn = virConnectOpen("test:///default");
    dom = virDomainLookupByName(conn, "test");
    base = virDomainSnapshotCreateXML(dom, SNAP_XML("base"), 0);
    CHECK(conn && dom && base);
    if (!base) return finish("threads");

    pthread_t t[8];
    pthread_barrier_init(&barrier, NULL, 2);
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, own_error, (void *)(size_t)i);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    pthread_barrier_destroy(&barrier);

    gate_init();
    for (int i = 0; i < 8; i++) pthread_create(&t[i], NULL, worker, (void *)(size_t)i);
    for (int i = 0; i < 8; i++) pthread_join(t[i], NULL);
    checks++;
    if (thread_failures) failures += thread_failures;
    CHECK(virDomainSnapshotNum(dom, 0) == 1);
    CHECK(virDomainSnapshotDelete(base, 0) == 0);
    CHECK(virDomainSnapshotFree(base) == 0);
    CHECK(virDomainFree(dom) == 0);
    CHECK(virConnectClose(conn) == 0);
    printf("threads: 8 threads, %.0f s, %ld operations\n", seconds, ops_total);
    return finish("threads");
}
