/* virDomainSnapshotGetUsage / virDomainListSnapshotUsage (virsnap 0.2):
 * the test driver (every field unknown, errors, empty list) and, when
 * qemu-img and qemu-io are on PATH, a real qcow2 on qemu:///embed: 8 MiB
 * written after each of two snapshots makes each reclaim 8 MiB (± the
 * metadata clusters), and a snapshot taken after the last write ~0.
 * Runs under valgrind and ASan in .ci/suites/capi.sh (leaks are failures). */
#include "common.h"
#include <unistd.h>

#define MIB (1024ULL * 1024ULL)

static void test_driver(void) {
    virConnectPtr conn = virConnectOpen("test:///default");
    CHECK(conn != NULL);
    virDomainPtr dom = virDomainLookupByName(conn, "test");
    CHECK(dom != NULL);
    char **names = (char **)1;
    virDomainSnapshotUsagePtr usages = (virDomainSnapshotUsagePtr)1;
    CHECK(virDomainListSnapshotUsage(dom, &names, &usages, 0) == 0);
    CHECK(names != NULL && names[0] == NULL && usages == NULL);
    free(names);

    virDomainSnapshotPtr s = virDomainSnapshotCreateXML(dom, SNAP_XML("u1"), 0);
    CHECK(s != NULL);
    virDomainSnapshotUsage u;
    memset(&u, 0xff, sizeof(u));
    CHECK(virDomainSnapshotGetUsage(s, &u, 0) == 0);
    CHECK_NO_ERR();
    CHECK(u.known == 0 && u.reclaimableBytes == 0 && u.vmStateBytes == 0 && u.overlayBytes == 0);

    CHECK(virDomainSnapshotGetUsage(s, NULL, 0) == -1);
    CHECK_ERR(VIR_ERR_INVALID_ARG, VIR_FROM_DOMAIN_SNAPSHOT, "usage");
    CHECK(virDomainSnapshotGetUsage(s, &u, 1) == -1);
    CHECK_ERR(VIR_ERR_INVALID_ARG, -1, "unsupported flags (0x1)");
    CHECK(virDomainSnapshotGetUsage(NULL, &u, 0) == -1);
    CHECK_ERR(VIR_ERR_INVALID_DOMAIN_SNAPSHOT, VIR_FROM_DOMAIN_SNAPSHOT, NULL);
    CHECK(virDomainListSnapshotUsage(dom, NULL, &usages, 0) == -1);
    CHECK_ERR(VIR_ERR_INVALID_ARG, VIR_FROM_DOMAIN, "names");
    CHECK(virDomainListSnapshotUsage(NULL, &names, &usages, 0) == -1);
    CHECK(names == NULL && usages == NULL);

    CHECK(virDomainListSnapshotUsage(dom, &names, &usages, 0) == 1);
    CHECK(names && names[0] && strcmp(names[0], "u1") == 0 && names[1] == NULL);
    CHECK(usages && usages[0].known == 0);
    for (char **n = names; n && *n; n++) free(*n);
    free(names);
    free(usages);

    CHECK(virDomainSnapshotDelete(s, 0) == 0);
    CHECK(virDomainSnapshotGetUsage(s, &u, 0) == -1);
    CHECK_ERR(VIR_ERR_NO_DOMAIN_SNAPSHOT, -1, "u1");
    virDomainSnapshotFree(s);
    virDomainFree(dom);
    virConnectClose(conn);
}

static int sh(const char *cmd) {
    int rc = system(cmd);
    CHECK(rc == 0);
    return rc;
}

static void test_qemu(void) {
    if (system("command -v qemu-io >/dev/null && command -v qemu-img >/dev/null") != 0) {
        /* The suite requires both; say so rather than pass silently. */
        fprintf(stderr, "FAIL qemu-img and qemu-io are required\n");
        failures++;
        return;
    }
    char dir[] = "/tmp/virsnap-usage-c-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char cmd[1024], uri[512], xml[1024];
    snprintf(cmd, sizeof cmd, "qemu-img create -q -f qcow2 %s/d.qcow2 32M", dir);
    sh(cmd);
    snprintf(uri, sizeof uri, "qemu:///embed?root=%s/root", dir);
    snprintf(xml, sizeof xml,
             "<domain type='qemu'><name>cu</name><memory unit='MiB'>32</memory>"
             "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>"
             "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
             "<source file='%s/d.qcow2'/><target dev='vda' bus='virtio'/></disk></devices></domain>", dir);
    virConnectPtr conn = virConnectOpen(uri);
    CHECK(conn != NULL);
    virDomainPtr dom = virDomainDefineXML(conn, xml);
    CHECK(dom != NULL);
    const char *steps[] = {"w1", "s:one", "w2", "s:two", "w3", "s:last"};
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        if (steps[i][0] == 'w') {
            snprintf(cmd, sizeof cmd, "qemu-io -f qcow2 -c 'write -P %c 0 8M' %s/d.qcow2 >/dev/null", steps[i][1], dir);
            sh(cmd);
        } else {
            char sx[128];
            snprintf(sx, sizeof sx, "<domainsnapshot><name>%s</name></domainsnapshot>", steps[i] + 2);
            virDomainSnapshotPtr s = virDomainSnapshotCreateXML(dom, sx, 0);
            CHECK(s != NULL);
            if (s) virDomainSnapshotFree(s);
        }
    }
    char **names = NULL;
    virDomainSnapshotUsagePtr usages = NULL;
    int n = virDomainListSnapshotUsage(dom, &names, &usages, 0);
    CHECK(n == 3);
    for (int i = 0; i < n; i++) {
        unsigned int all = VIR_DOMAIN_SNAPSHOT_USAGE_RECLAIMABLE | VIR_DOMAIN_SNAPSHOT_USAGE_VM_STATE |
                           VIR_DOMAIN_SNAPSHOT_USAGE_EXCLUSIVE | VIR_DOMAIN_SNAPSHOT_USAGE_SHARED;
        CHECK(usages[i].known == all);
        CHECK(usages[i].vmStateBytes == 0);
        if (strcmp(names[i], "last") == 0) {
            CHECK(usages[i].reclaimableBytes <= 2 * 65536);
        } else {
            CHECK(usages[i].reclaimableBytes >= 8 * MIB && usages[i].reclaimableBytes <= 8 * MIB + 4 * 65536);
        }
        virDomainSnapshotPtr s = virDomainSnapshotLookupByName(dom, names[i], 0);
        virDomainSnapshotUsage one;
        CHECK(s && virDomainSnapshotGetUsage(s, &one, 0) == 0);
        CHECK(one.known == usages[i].known && one.reclaimableBytes == usages[i].reclaimableBytes &&
              one.vmStateBytes == usages[i].vmStateBytes && one.exclusiveBytes == usages[i].exclusiveBytes &&
              one.sharedBytes == usages[i].sharedBytes && one.overlayBytes == usages[i].overlayBytes);
        if (s) virDomainSnapshotFree(s);
    }
    for (char **p = names; p && *p; p++) free(*p);
    free(names);
    free(usages);
    virDomainFree(dom);
    virConnectClose(conn);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    sh(cmd);
}

int main(void) {
    virSetErrorFunc(NULL, quiet_handler);
    test_driver();
    test_qemu();
    return finish("usage");
}
