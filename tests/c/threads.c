/* Threads: (1) each thread has its own last error; (2) 8 threads share one
 * connection, one domain handle and one snapshot handle, mixing
 * create/list/lookup/revert/delete/ref/free for N seconds (argv[1], default
 * 10; the suite's long run uses VIRSNAP_THREADS_SECONDS=30). Any unexpected
 * error fails the test. */
#define _GNU_SOURCE /* clock_gettime and pthreads under -std=c11 */
#define _POSIX_C_SOURCE 200809L
#include "common.h"
#include "threads_common.h"

static virConnectPtr conn;
static virDomainPtr dom;
static virDomainSnapshotPtr base;
static double seconds = 10;
static pthread_barrier_t barrier;

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
        virDomainSnapshotPtr s = virDomainSnapshotCreateXML(dom, xml, 0);
        TCHECK(s != NULL);
        if (!s) continue;
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
        free_twice(id, s);
        ops += 16;
    }
    add_ops(ops);
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

    pthread_barrier_init(&barrier, NULL, 2);
    run_threads(2, own_error);
    pthread_barrier_destroy(&barrier);

    run_workers(8, worker);
    CHECK(virDomainSnapshotNum(dom, 0) == 1);
    CHECK(virDomainSnapshotDelete(base, 0) == 0);
    CHECK(virDomainSnapshotFree(base) == 0);
    CHECK(virDomainFree(dom) == 0);
    CHECK(virConnectClose(conn) == 0);
    printf("threads: 8 threads, %.0f s, %ld operations\n", seconds, ops_total);
    return finish("threads");
}
