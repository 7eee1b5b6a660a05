/* Snapshot API workload for side-by-side benchmarks (issue 9).
 *
 * Written only against libvirt's public API. Built once against Debian's
 * libvirt-dev (-lvirt) and run twice by tests/bench/run.py: as is (libvirt
 * 9.0, test:///default in-process) and with
 * LD_LIBRARY_PATH=target/release/libvirt-compat (virsnap under libvirt's
 * soname): the same binary, the same workload.
 *
 *   snapbench N [URI] [DOMAIN]
 *
 * Workload on one domain, fresh process (test:///default starts empty):
 *   create       N snapshots <name>sI</name>, each becomes current, so a chain
 *   list_names   virDomainSnapshotNum + virDomainSnapshotListNames(all), free
 *   lookup_xml   for each name in creation order: LookupByName + GetXMLDesc, free
 *   lookup       LookupByName of every name in a random order (fixed seed), free
 *   list_topo    virDomainListAllSnapshots(TOPOLOGICAL), free every handle
 *   delete_tree  LookupByName(s0) + virDomainSnapshotDelete(DELETE_CHILDREN)
 * Prints one JSON object: seconds per phase, and rss_per_snap (bytes; RSS
 * after create minus before, divided by N).
 */
#define _GNU_SOURCE
#define BENCH_NAME "snapbench"
#include "bench.h"
#include <unistd.h>

static long rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, res = 0;
    if (!f) return 0;
    if (fscanf(f, "%ld %ld", &size, &res) != 2) res = 0;
    fclose(f);
    return res * sysconf(_SC_PAGESIZE);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: snapbench N [URI] [DOMAIN]\n");
        return 2;
    }
    int n = atoi(argv[1]);
    const char *uri = argc > 2 ? argv[2] : "test:///default";
    const char *domname = argc > 3 ? argv[3] : "test";
    if (n < 1) return 2;
    virConnectPtr conn;
    virDomainPtr dom = open_domain(uri, domname, &conn);
    snap_name *names = snapshot_names(n);

    /* create */
    long rss0 = rss_bytes();
    double t0 = now();
    create_chain(dom, names, n);
    double t_create = now() - t0;
    long rss1 = rss_bytes();

    /* list names */
    char **got = malloc((size_t)n * sizeof *got);
    t0 = now();
    int num = virDomainSnapshotNum(dom, 0);
    if (num != n) die("virDomainSnapshotNum");
    int k = virDomainSnapshotListNames(dom, got, num, 0);
    if (k != n) die("virDomainSnapshotListNames");
    for (int i = 0; i < k; i++) free(got[i]);
    double t_list_names = now() - t0;

    /* lookup + GetXMLDesc */
    size_t xml_bytes = 0;
    t0 = now();
    for (int i = 0; i < n; i++) {
        virDomainSnapshotPtr s = virDomainSnapshotLookupByName(dom, names[i], 0);
        if (!s) die("virDomainSnapshotLookupByName");
        char *x = virDomainSnapshotGetXMLDesc(s, 0);
        if (!x) die("virDomainSnapshotGetXMLDesc");
        xml_bytes += strlen(x);
        free(x);
        virDomainSnapshotFree(s);
    }
    double t_lookup_xml = now() - t0;

    /* lookup by name, random order */
    int *perm = random_order(n);
    t0 = now();
    for (int i = 0; i < n; i++) {
        virDomainSnapshotPtr s = virDomainSnapshotLookupByName(dom, names[perm[i]], 0);
        if (!s) die("virDomainSnapshotLookupByName (random)");
        virDomainSnapshotFree(s);
    }
    double t_lookup = now() - t0;

    /* list all, topological */
    virDomainSnapshotPtr *snaps = NULL;
    t0 = now();
    k = virDomainListAllSnapshots(dom, &snaps, VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL);
    if (k != n) die("virDomainListAllSnapshots");
    for (int i = 0; i < k; i++) virDomainSnapshotFree(snaps[i]);
    free(snaps);
    double t_list_topo = now() - t0;

    /* delete the whole tree */
    t0 = now();
    virDomainSnapshotPtr root = virDomainSnapshotLookupByName(dom, names[0], 0);
    if (!root) die("virDomainSnapshotLookupByName (root)");
    if (virDomainSnapshotDelete(root, VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN) < 0) die("virDomainSnapshotDelete");
    virDomainSnapshotFree(root);
    double t_delete = now() - t0;
    if (virDomainSnapshotNum(dom, 0) != 0) die("virDomainSnapshotNum after delete");

    printf("{\"n\": %d, \"create\": %.9f, \"list_names\": %.9f, \"lookup_xml\": %.9f, \"lookup\": %.9f, "
           "\"list_topo\": %.9f, \"delete_tree\": %.9f, \"rss_per_snap\": %.1f, \"xml_bytes\": %zu}\n",
           n, t_create, t_list_names, t_lookup_xml, t_lookup, t_list_topo, t_delete,
           (double)(rss1 - rss0) / n, xml_bytes);
    free(perm);
    free(got);
    free(names);
    virDomainFree(dom);
    virConnectClose(conn);
    return 0;
}
