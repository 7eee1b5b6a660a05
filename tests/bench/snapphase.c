/* One phase of the snapbench workload, for profiling (issue 9).
 *
 *   snapphase N PHASE [REPS]
 *
 * Creates N snapshots (a chain) on test:///default, then runs PHASE REPS
 * times (default 1) and prints the best time per item:
 *   lookup   LookupByName of every name in a random order (fixed seed), free
 *   topo     ListAllSnapshots(TOPOLOGICAL), free every handle and the array
 *   names    SnapshotNum + SnapshotListNames, free every name
 *   none     nothing (the create-only baseline)
 * Instructions per item under callgrind: run PHASE and none with REPS 1 and
 * divide the difference of the two totals by N (tests/bench/README.md).
 * Built like snapbench.c, against libvirt's headers; run on virsnap with
 * LD_LIBRARY_PATH=target/release/libvirt-compat.
 */
#define _GNU_SOURCE
#define BENCH_NAME "snapphase"
#include "bench.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: snapphase N lookup|topo|names|none [REPS]\n");
        return 2;
    }
    int n = atoi(argv[1]);
    const char *phase = argv[2];
    int reps = argc > 3 ? atoi(argv[3]) : 1;
    if (n < 1 || reps < 1) return 2;
    virConnectPtr conn;
    virDomainPtr dom = open_domain("test:///default", "test", &conn);
    snap_name *names = snapshot_names(n);
    char **got = malloc((size_t)n * sizeof *got);
    if (!got) return 1;
    create_chain(dom, names, n);
    int *perm = random_order(n);

    double best = 1e30, first = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        if (!strcmp(phase, "lookup")) {
            for (int i = 0; i < n; i++) {
                virDomainSnapshotPtr s = virDomainSnapshotLookupByName(dom, names[perm[i]], 0);
                if (!s) die("virDomainSnapshotLookupByName");
                virDomainSnapshotFree(s);
            }
        } else if (!strcmp(phase, "topo")) {
            virDomainSnapshotPtr *snaps = NULL;
            int k = virDomainListAllSnapshots(dom, &snaps, VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL);
            if (k != n) die("virDomainListAllSnapshots");
            for (int i = 0; i < k; i++) virDomainSnapshotFree(snaps[i]);
            free(snaps);
        } else if (!strcmp(phase, "names")) {
            int num = virDomainSnapshotNum(dom, 0);
            int k = virDomainSnapshotListNames(dom, got, num, 0);
            if (k != n) die("virDomainSnapshotListNames");
            for (int i = 0; i < k; i++) free(got[i]);
        } else if (strcmp(phase, "none")) {
            fprintf(stderr, "snapphase: unknown phase %s\n", phase);
            return 2;
        }
        double t = now() - t0;
        if (r == 0) first = t;
        if (t < best) best = t;
    }
    printf("%s n=%d best of %d: %.3f ms, %.1f ns/item (first run %.3f ms)\n", phase, n, reps, best * 1e3,
           best * 1e9 / n, first * 1e3);
    free(got);
    free(perm);
    free(names);
    virDomainFree(dom);
    virConnectClose(conn);
    return 0;
}
