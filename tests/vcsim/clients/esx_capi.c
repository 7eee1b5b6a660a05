/* The C ABI reaching ESX: a program written against libvirt's headers,
 * run by core/tests/esx_capi.rs against vcsim. argv[1] is the esx:// URI.
 * Prints one line per step; exits 0 when every step behaved as libvirt's
 * ESX driver would on vcsim. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

static int auth_cb(virConnectCredentialPtr cred, unsigned int ncred, void *cbdata)
{
    (void)cbdata;
    for (unsigned int i = 0; i < ncred; i++) {
        const char *v = cred[i].type == VIR_CRED_AUTHNAME ? "root" : "pass";
        cred[i].result = strdup(v);
        if (!cred[i].result)
            return -1;
        cred[i].resultlen = strlen(v);
    }
    return 0;
}

#define CHECK(cond, what) do { \
    if (!(cond)) { \
        virErrorPtr e = virGetLastError(); \
        fprintf(stderr, "FAIL: %s: %s\n", what, e && e->message ? e->message : "(no error)"); \
        return 1; \
    } \
    printf("ok: %s\n", what); \
} while (0)

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s URI\n", argv[0]);
        return 2;
    }
    int types[] = { VIR_CRED_AUTHNAME, VIR_CRED_PASSPHRASE };
    virConnectAuth auth = { types, 2, auth_cb, NULL };
    virConnectPtr conn = virConnectOpenAuth(argv[1], &auth, 0);
    CHECK(conn != NULL, "virConnectOpenAuth");
    const char *type = virConnectGetType(conn);
    CHECK(type && strcmp(type, "ESX") == 0, "virConnectGetType == ESX");

    virDomainPtr dom = virDomainLookupByName(conn, "ha-host_VM0");
    CHECK(dom != NULL, "virDomainLookupByName");
    virDomainSnapshotPtr s1 = virDomainSnapshotCreateXML(dom,
        "<domainsnapshot><name>c1</name><description>from C</description></domainsnapshot>", 0);
    CHECK(s1 != NULL, "virDomainSnapshotCreateXML c1");
    virDomainSnapshotPtr s2 = virDomainSnapshotCreateXML(dom,
        "<domainsnapshot><name>c2</name></domainsnapshot>", 0);
    CHECK(s2 != NULL, "virDomainSnapshotCreateXML c2");
    CHECK(virDomainSnapshotNum(dom, 0) == 2, "virDomainSnapshotNum == 2");

    char *names[4] = { NULL };
    int n = virDomainSnapshotListNames(dom, names, 4, 0);
    CHECK(n == 2 && strcmp(names[0], "c1") == 0 && strcmp(names[1], "c2") == 0, "virDomainSnapshotListNames");
    for (int i = 0; i < n; i++)
        free(names[i]);

    CHECK(virDomainRevertToSnapshot(s1, 0) == 0, "virDomainRevertToSnapshot c1");
    virDomainSnapshotPtr cur = virDomainSnapshotCurrent(dom, 0);
    CHECK(cur && strcmp(virDomainSnapshotGetName(cur), "c1") == 0, "virDomainSnapshotCurrent == c1");
    char *xml = virDomainSnapshotGetXMLDesc(s1, 0);
    CHECK(xml && strstr(xml, "<description>from C</description>"), "virDomainSnapshotGetXMLDesc");
    free(xml);

    char newname[] = "c9";
    CHECK(virDomainSnapshotRename(s2, newname, 0) < 0 && virGetLastErrorCode() == VIR_ERR_NO_SUPPORT,
          "virDomainSnapshotRename -> VIR_ERR_NO_SUPPORT on vcsim");
    CHECK(virDomainSnapshotDelete(s1, VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY) == 0,
          "virDomainSnapshotDelete c1 children-only");
    CHECK(virDomainSnapshotNum(dom, 0) == 1, "virDomainSnapshotNum == 1");
    CHECK(virDomainSnapshotLookupByName(dom, "c2", 0) == NULL
          && virGetLastErrorCode() == VIR_ERR_NO_DOMAIN_SNAPSHOT, "c2 is gone");

    virDomainSnapshotFree(cur);
    virDomainSnapshotFree(s2);
    virDomainSnapshotFree(s1);
    virDomainFree(dom);
    CHECK(virConnectClose(conn) == 0, "virConnectClose");
    return 0;
}
