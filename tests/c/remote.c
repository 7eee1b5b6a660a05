/* The snapshot API through a libvirt daemon (core/tests/remote_daemon.rs):
 * built once against Debian's libvirt-dev, run on libvirt.so.0 and on
 * virsnap's libvirt-compat/libvirt.so.0 against the same daemon; the two
 * outputs must be identical. Usage: remote URI DOMAIN. Leaves the domain's
 * snapshots as it found them (none). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

static void quiet(void *u, virErrorPtr e) { (void)u; (void)e; }

static void report(const char *what) {
    virErrorPtr e = virGetLastError();
    if (!e) { printf("%s: failed without error\n", what); return; }
    printf("%s: code=%d domain=%d level=%d message=[%s] str1=[%s] str2=[%s] str3=[%s] int1=%d int2=%d\n",
           what, e->code, e->domain, e->level, e->message ? e->message : "(null)",
           e->str1 ? e->str1 : "(null)", e->str2 ? e->str2 : "(null)", e->str3 ? e->str3 : "(null)",
           e->int1, e->int2);
    virResetLastError();
}

static void list(virDomainPtr d, const char *label, unsigned int flags) {
    virDomainSnapshotPtr *snaps = NULL;
    int n = virDomainListAllSnapshots(d, &snaps, flags);
    if (n < 0) { report(label); return; }
    printf("%s (%d):", label, n);
    for (int i = 0; i < n; i++) {
        virDomainSnapshotPtr p = virDomainSnapshotGetParent(snaps[i], 0);
        printf(" %s<%s,cur=%d,meta=%d,children=%d>", virDomainSnapshotGetName(snaps[i]),
               p ? virDomainSnapshotGetName(p) : "-", virDomainSnapshotIsCurrent(snaps[i], 0),
               virDomainSnapshotHasMetadata(snaps[i], 0), virDomainSnapshotNumChildren(snaps[i], 0));
        if (p) virDomainSnapshotFree(p); else virResetLastError();
        virDomainSnapshotFree(snaps[i]);
    }
    printf(" num=%d\n", virDomainSnapshotNum(d, flags));
    free(snaps);
    char *names[16];
    n = virDomainSnapshotListNames(d, names, 16, flags);
    printf("%s names:", label);
    for (int i = 0; i < n; i++) { printf(" %s", names[i]); free(names[i]); }
    printf("\n");
}

static virDomainSnapshotPtr create(virDomainPtr d, const char *name) {
    char xml[256];
    snprintf(xml, sizeof xml, "<domainsnapshot><name>%s</name><description>via C</description></domainsnapshot>", name);
    virDomainSnapshotPtr s = virDomainSnapshotCreateXML(d, xml, 0);
    if (!s) report("create");
    else printf("created %s\n", virDomainSnapshotGetName(s));
    return s;
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: remote URI DOMAIN\n"); return 2; }
    virSetErrorFunc(NULL, quiet);
    virConnectPtr c = virConnectOpen(argv[1]);
    if (!c) { report("open"); return 1; }
    printf("type=%s uri=%s\n", virConnectGetType(c), argv[1]);
    char *caps = virConnectGetCapabilities(c);
    if (caps) { printf("capabilities: %zu bytes, host uuid line %d\n", strlen(caps), strstr(caps, "<uuid>") != NULL); free(caps); }
    else report("capabilities");
    virNodeInfo ni;
    if (virNodeGetInfo(c, &ni) == 0)
        printf("node: model=%s memory=%lu cpus=%u mhz=%u nodes=%u sockets=%u cores=%u threads=%u\n", ni.model,
               ni.memory, ni.cpus, ni.mhz, ni.nodes, ni.sockets, ni.cores, ni.threads);
    else report("node info");
    printf("max vcpus=%d\n", virConnectGetMaxVcpus(c, NULL));
    char *si = virConnectGetSysinfo(c, 0);
    if (si) { printf("sysinfo: %zu bytes\n", strlen(si)); free(si); } else report("sysinfo");
    char *host = virConnectGetHostname(c);
    if (host) { printf("hostname=%s\n", host); free(host); } else report("hostname");
    unsigned long hv;
    if (virConnectGetVersion(c, &hv) == 0) printf("hv version=%lu\n", hv); else report("version");
    virDomainPtr d = virDomainLookupByName(c, argv[2]);
    if (!d) { report("lookup"); return 1; }
    virDomainInfo info;
    if (virDomainGetInfo(d, &info) == 0) printf("info state=%d maxmem=%lu vcpus=%d\n", info.state, info.maxMem, info.nrVirtCpu);
    int state, reason;
    if (virDomainGetState(d, &state, &reason, 0) == 0) printf("state=%d reason=%d\n", state, reason);
    if (!virDomainLookupByName(c, "nosuchdom")) report("lookup nosuchdom");
    printf("has current=%d\n", virDomainHasCurrentSnapshot(d, 0));
    if (!virDomainSnapshotCurrent(d, 0)) report("current with none");
    if (!virDomainSnapshotLookupByName(d, "nosuch", 0)) report("lookup nosuch");
    if (virDomainSnapshotNum(d, 0x80000000u) < 0) report("num bad flags");

    virDomainSnapshotPtr a = create(d, "ca");
    virDomainSnapshotPtr b = create(d, "cb");
    if (!create(d, "ca")) printf("duplicate refused\n");
    list(d, "all", 0);
    list(d, "roots", VIR_DOMAIN_SNAPSHOT_LIST_ROOTS);
    list(d, "leaves", VIR_DOMAIN_SNAPSHOT_LIST_LEAVES);
    if (a && b) {
        char *x = virDomainSnapshotGetXMLDesc(a, 0);
        printf("xml has name=%d description=%d\n", x && strstr(x, "<name>ca</name>") != NULL,
               x && strstr(x, "<description>via C</description>") != NULL);
        free(x);
        if (virDomainRevertToSnapshot(a, 0) < 0) report("revert"); else printf("reverted ca\n");
        virDomainSnapshotPtr cur = virDomainSnapshotCurrent(d, 0);
        printf("current=%s\n", cur ? virDomainSnapshotGetName(cur) : "-");
        if (cur) virDomainSnapshotFree(cur);
        if (virDomainSnapshotDelete(b, 0) < 0) report("delete cb"); else printf("deleted cb\n");
        if (virDomainSnapshotDelete(b, 0) < 0) report("delete cb again");
        list(d, "after delete", 0);
        if (virDomainSnapshotDelete(a, VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN) < 0) report("delete ca"); else printf("deleted ca\n");
    }
    if (a) virDomainSnapshotFree(a);
    if (b) virDomainSnapshotFree(b);
    list(d, "end", 0);
    virDomainFree(d);
    virConnectClose(c);
    return 0;
}
