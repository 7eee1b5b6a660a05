/* Concurrency (issue 10): 8 threads share one connection, one domain and
 * one snapshot handle and mix every snapshot operation — create, lookup by
 * name and UUID, rename, parent, children (names, handles, descendants),
 * current, metadata, XML, revert, delete — with hostile calls (entity bomb,
 * unknown flags, forged handle) and handle ref/free races, for N seconds.
 * Calls on another thread's snapshot may find it gone
 * (VIR_ERR_NO_DOMAIN_SNAPSHOT); any other error fails. Afterwards only the
 * shared snapshot is left. Run under ASan and valgrind by
 * .ci/suites/hostile.sh.
 *
 *   hostile_threads SECONDS [URI]   (HOSTILE_DOMAIN, HOSTILE_DOMAIN_XML as hostile.c)
 */
#define _GNU_SOURCE /* clock_gettime and pthreads under -std=c11 */
#define _POSIX_C_SOURCE 200809L
#include "common.h"
#include "threads_common.h"

#define THREADS 8
static virConnectPtr conn;
static virDomainPtr dom;
static virDomainSnapshotPtr base;
static double seconds = 10;

/* cond true on success; a vanished snapshot is fine */
#define MAYBE_GONE(cond) do { if (!(cond) && virGetLastErrorCode() != VIR_ERR_NO_DOMAIN_SNAPSHOT) TFAIL(#cond); } while (0)
#define FAILS_WITH(cond, code) do { if (!(cond) || virGetLastErrorCode() != (code)) TFAIL(#cond " with " #code); } while (0)

static const char *BOMB =
    "<?xml version='1.0'?><!DOCTYPE l [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'>"
    "<!ENTITY c '&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;'>]><domainsnapshot><name>bomb</name><description>&c;</description>"
    "</domainsnapshot>";

static void *worker(void *arg) {
    int id = (int)(size_t)arg;
    long ops = 0;
    double end = now() + seconds;
    char name[64], renamed[64], xml[256], uuid[VIR_UUID_STRING_BUFLEN];
    for (long it = 0; now() < end; it++) {
        snprintf(name, sizeof name, "t%d-%ld", id, it);
        snprintf(renamed, sizeof renamed, "r%d-%ld", id, it);
        snprintf(xml, sizeof xml, "<domainsnapshot><name>%s</name><description>thread %d</description></domainsnapshot>",
                 name, id);
        virDomainSnapshotPtr s = virDomainSnapshotCreateXML(dom, xml, 0);
        TCHECK(s != NULL);
        if (!s) continue;
        TCHECK(strcmp(virDomainSnapshotGetName(s), name) == 0);
        /* lookups */
        virDomainSnapshotPtr l = virDomainSnapshotLookupByName(dom, name, 0);
        TCHECK(l != NULL);
        if (virDomainSnapshotGetUUIDString(s, uuid) == 0) {
            virDomainSnapshotPtr u = virDomainSnapshotLookupByUUIDString(dom, uuid, 0);
            TCHECK(u && strcmp(virDomainSnapshotGetName(u), name) == 0);
            if (u) virDomainSnapshotFree(u);
        } else {
            TFAIL("GetUUIDString");
        }
        /* parent: another thread's snapshot, may be deleted meanwhile */
        virDomainSnapshotPtr p = virDomainSnapshotGetParent(s, 0);
        if (p) {
            char *px = virDomainSnapshotGetXMLDesc(p, 0);
            MAYBE_GONE(px != NULL);
            free(px);
            virDomainSnapshotFree(p);
        } else if (virGetLastErrorCode() != VIR_ERR_NO_DOMAIN_SNAPSHOT) {
            TFAIL("GetParent");
        }
        /* children of the shared snapshot, every way */
        virDomainSnapshotPtr *kids = NULL;
        int n = virDomainSnapshotListAllChildren(base, &kids, VIR_DOMAIN_SNAPSHOT_LIST_DESCENDANTS);
        TCHECK(n >= 0);
        for (int i = 0; i < n; i++) {
            MAYBE_GONE(virDomainSnapshotIsCurrent(kids[i], 0) >= 0);
            virDomainSnapshotFree(kids[i]);
        }
        free(kids);
        char *names[32];
        n = virDomainSnapshotListChildrenNames(base, names, 32, 0);
        TCHECK(n >= 0);
        for (int i = 0; i < n && i < 32; i++) free(names[i]);
        TCHECK(virDomainSnapshotNumChildren(base, VIR_DOMAIN_SNAPSHOT_LIST_DESCENDANTS) >= 0);
        n = virDomainSnapshotListNames(dom, names, 32, VIR_DOMAIN_SNAPSHOT_LIST_ROOTS);
        TCHECK(n >= 1);
        for (int i = 0; i < n && i < 32; i++) free(names[i]);
        virDomainSnapshotPtr *all = NULL;
        n = virDomainListAllSnapshots(dom, &all, VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL);
        TCHECK(n >= 2 && all && all[n] == NULL);
        for (int i = 0; i < n; i++) virDomainSnapshotFree(all[i]);
        free(all);
        /* current */
        TCHECK(virDomainHasCurrentSnapshot(dom, 0) >= 0);
        virDomainSnapshotPtr c = virDomainSnapshotCurrent(dom, 0);
        if (c) {
            MAYBE_GONE(virDomainSnapshotHasMetadata(c, 0) >= 0);
            virDomainSnapshotFree(c);
        } else if (virGetLastErrorCode() != VIR_ERR_NO_DOMAIN_SNAPSHOT) {
            TFAIL("SnapshotCurrent");
        }
        /* the shared handles */
        TCHECK(virDomainSnapshotRef(base) == 0);
        TCHECK(strcmp(virDomainSnapshotGetName(base), "base") == 0);
        TCHECK(virDomainSnapshotHasMetadata(base, 0) == 1);
        char *x = virDomainSnapshotGetXMLDesc(base, VIR_DOMAIN_SNAPSHOT_XML_SECURE);
        TCHECK(x != NULL);
        free(x);
        TCHECK(virDomainRef(dom) == 0 && virConnectRef(conn) == 0);
        if (it % 8 == id % 8) TCHECK(virDomainRevertToSnapshot(base, 0) == 0);
        TCHECK(virDomainSnapshotFree(base) == 0);
        TCHECK(virDomainFree(dom) == 0 && virConnectClose(conn) >= 1);
        /* hostile calls in the middle of it all */
        virDomainSnapshotPtr h = virDomainSnapshotCreateXML(dom, BOMB, 0);
        TCHECK(h == NULL && (virGetLastErrorCode() == VIR_ERR_XML_ERROR || virGetLastErrorCode() == VIR_ERR_XML_DETAIL));
        FAILS_WITH(virDomainSnapshotNum(dom, 1u << 31) == -1, VIR_ERR_INVALID_ARG);
        FAILS_WITH(virDomainSnapshotDelete((virDomainSnapshotPtr)names, 0) == -1, VIR_ERR_INVALID_DOMAIN_SNAPSHOT);
        FAILS_WITH(virDomainSnapshotRename(s, (char *)"../x", 0) == -1, VIR_ERR_INVALID_ARG);
        /* rename own snapshot; both handles now name a vanished snapshot */
        TCHECK(virDomainSnapshotRename(s, renamed, 0) == 0);
        virDomainSnapshotPtr r = virDomainSnapshotLookupByName(dom, renamed, 0);
        TCHECK(r != NULL);
        FAILS_WITH(virDomainSnapshotLookupByName(dom, name, 0) == NULL, VIR_ERR_NO_DOMAIN_SNAPSHOT);
        /* delete it through the new handle; free everything, twice for s */
        if (r) {
            TCHECK(virDomainSnapshotDelete(r, 0) == 0);
            FAILS_WITH(virDomainSnapshotIsCurrent(r, 0) == -1, VIR_ERR_NO_DOMAIN_SNAPSHOT);
            TCHECK(virDomainSnapshotFree(r) == 0);
        }
        if (l) TCHECK(virDomainSnapshotFree(l) == 0);
        free_twice(id, s);
        ops += 30;
    }
    add_ops(ops);
    return NULL;
}

int main(int argc, char **argv) {
    virSetErrorFunc(NULL, quiet_handler);
    if (argc > 1) seconds = atof(argv[1]);
    const char *uri = argc > 2 ? argv[2] : "test:///default";
    dom = open_domain(uri, &conn);
    if (!dom) return finish("hostile_threads");
    base = virDomainSnapshotCreateXML(dom, SNAP_XML("base"), 0);
    CHECK(base != NULL);
    if (!base) return finish("hostile_threads");

    run_workers(THREADS, worker);
    CHECK(virDomainSnapshotNum(dom, 0) == 1);
    CHECK(virDomainSnapshotDelete(base, 0) == 0);
    CHECK(virDomainSnapshotNum(dom, 0) == 0);
    CHECK(virDomainSnapshotFree(base) == 0);
    CHECK(virDomainFree(dom) == 0);
    CHECK(virConnectClose(conn) == 0);
    printf("hostile_threads: %d threads, %.0f s, %ld operations on %s\n", THREADS, seconds, ops_total, uri);
    return finish("hostile_threads");
}
