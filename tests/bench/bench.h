/* Shared parts of the benchmark programs (snapbench.c, snapphase.c): the
 * clock, error exit, a fixed-seed shuffle and the snapshot chain both build.
 * Define BENCH_NAME (the program's name, for messages) and _GNU_SOURCE
 * before including it. */
#ifndef VIRSNAP_BENCH_H
#define VIRSNAP_BENCH_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

/* A snapshot name, "sI". */
typedef char snap_name[32];

/* Monotonic seconds. */
static inline double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Prints what failed with libvirt's last error and exits 1. */
static inline void die(const char *what) {
    virErrorPtr e = virGetLastError();
    fprintf(stderr, BENCH_NAME ": %s failed: %s\n", what, e && e->message ? e->message : "?");
    exit(1);
}

static inline void quiet(void *opaque, virErrorPtr e) { (void)opaque; (void)e; }

/* Opens `uri` and its domain `name`, with libvirt's error printing off. */
static inline virDomainPtr open_domain(const char *uri, const char *name, virConnectPtr *conn) {
    virSetErrorFunc(NULL, quiet);
    *conn = virConnectOpen(uri);
    if (!*conn) die("virConnectOpen");
    virDomainPtr dom = virDomainLookupByName(*conn, name);
    if (!dom) die("virDomainLookupByName");
    return dom;
}

static unsigned long long rng = 0x9E3779B97F4A7C15ull;
static inline unsigned long long next_rand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* 0..n-1 shuffled (fixed seed: the same order in every run); free it. */
static inline int *random_order(int n) {
    int *perm = malloc((size_t)n * sizeof *perm);
    if (!perm) die("malloc");
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(next_rand() % (unsigned long long)(i + 1));
        int t = perm[i]; perm[i] = perm[j]; perm[j] = t;
    }
    return perm;
}

/* The names s0..s(n-1); free them. */
static inline snap_name *snapshot_names(int n) {
    snap_name *names = malloc((size_t)n * sizeof *names);
    if (!names) die("malloc");
    for (int i = 0; i < n; i++) snprintf(names[i], sizeof names[i], "s%d", i);
    return names;
}

/* Creates the snapshots `names[0..n)` in order; each becomes current, so
 * they form a chain. */
static inline void create_chain(virDomainPtr dom, snap_name *names, int n) {
    char xml[128];
    for (int i = 0; i < n; i++) {
        snprintf(xml, sizeof xml, "<domainsnapshot><name>%s</name></domainsnapshot>", names[i]);
        virDomainSnapshotPtr s = virDomainSnapshotCreateXML(dom, xml, 0);
        if (!s) die("virDomainSnapshotCreateXML");
        virDomainSnapshotFree(s);
    }
}
#endif
