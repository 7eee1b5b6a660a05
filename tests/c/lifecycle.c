/* Whole snapshot lifecycle on test:///default: create, lookup, list, tree,
 * revert, delete, XML, current, parent, children, metadata. */
#include "common.h"

static int has_name(char **names, int n, const char *want) {
    for (int i = 0; i < n; i++) if (strcmp(names[i], want) == 0) return 1;
    return 0;
}

static int auth_calls;
static int auth_cb(virConnectCredentialPtr cred, unsigned int ncred, void *cbdata) {
    (void)cred; (void)ncred; (void)cbdata;
    auth_calls++;
    return 0;
}

static void open_auth(void) {
    int credtypes[] = {VIR_CRED_AUTHNAME, VIR_CRED_PASSPHRASE};
    virConnectAuth auth = {credtypes, 2, auth_cb, NULL};
    virConnectPtr rc = virConnectOpenAuth("test:///default", &auth, VIR_CONNECT_RO);
    CHECK(rc != NULL);
    virDomainPtr rd = virDomainLookupByName(rc, "test");
    CHECK(rd != NULL);
    CHECK(virDomainSuspend(rd) == -1);
    CHECK_ERR(VIR_ERR_OPERATION_DENIED, VIR_FROM_DOMAIN, "read only access prevents virDomainSuspend");
    CHECK(virDomainFree(rd) == 0);
    CHECK(virConnectClose(rc) == 0);
    rc = virConnectOpenAuth("test:///default", NULL, 0);
    CHECK(rc != NULL);
    CHECK(virConnectClose(rc) == 0);
    CHECK(auth_calls == 0); /* the test driver needs no credentials */
    rc = virConnectOpenReadOnly("test:///default");
    CHECK(rc != NULL);
    CHECK(virConnectClose(rc) == 0);
}

int main(void) {
    virSetErrorFunc(NULL, quiet_handler);
    CHECK(virInitialize() == 0);
    unsigned long lib = 0, typ = 0;
    CHECK(virGetVersion(&lib, NULL, &typ) == 0 && lib == 9000000 && typ == 9000000);

    open_auth();
    virConnectPtr conn = virConnectOpen("test:///default");
    CHECK(conn != NULL);
    if (!conn) return finish("lifecycle");
    CHECK_NO_ERR();
    char *uri = virConnectGetURI(conn);
    CHECK(uri && strcmp(uri, "test:///default") == 0);
    free(uri);
    CHECK(strcmp(virConnectGetType(conn), "TEST") == 0);
    CHECK(virConnectGetLibVersion(conn, &lib) == 0 && lib == 9000000);
    CHECK(virConnectNumOfDomains(conn) == 1);

    virDomainPtr *doms = NULL;
    int nd = virConnectListAllDomains(conn, &doms, 0);
    CHECK(nd == 1 && doms && doms[1] == NULL);
    for (int i = 0; i < nd; i++) virDomainFree(doms[i]);
    free(doms);
    CHECK(virConnectListAllDomains(conn, NULL, 0) == 1);

    virDomainPtr dom = virDomainLookupByName(conn, "test");
    CHECK(dom != NULL);
    CHECK(strcmp(virDomainGetName(dom), "test") == 0);
    CHECK(virDomainGetID(dom) == 1);
    char uuid[VIR_UUID_STRING_BUFLEN];
    CHECK(virDomainGetUUIDString(dom, uuid) == 0 && strcmp(uuid, "6695eb01-f6a4-8304-79aa-97f2502e193f") == 0);
    unsigned char raw[VIR_UUID_BUFLEN];
    CHECK(virDomainGetUUID(dom, raw) == 0 && raw[0] == 0x66 && raw[15] == 0x3f);
    virDomainPtr d2 = virDomainLookupByUUIDString(conn, uuid);
    CHECK(d2 && d2 != dom && strcmp(virDomainGetName(d2), "test") == 0);
    virDomainFree(d2);
    d2 = virDomainLookupByUUID(conn, raw);
    CHECK(d2 != NULL);
    virDomainFree(d2);
    d2 = virDomainLookupByID(conn, 1);
    CHECK(d2 != NULL);
    virDomainFree(d2);
    CHECK(virDomainGetConnect(dom) == conn);
    int state = -1, reason = -1;
    CHECK(virDomainGetState(dom, &state, &reason, 0) == 0 && state == VIR_DOMAIN_RUNNING);
    virDomainInfo info;
    CHECK(virDomainGetInfo(dom, &info) == 0 && info.state == VIR_DOMAIN_RUNNING && info.nrVirtCpu >= 1);
    CHECK(virDomainIsActive(dom) == 1);
    char *dxml = virDomainGetXMLDesc(dom, 0);
    CHECK(dxml && strstr(dxml, "<name>test</name>"));
    free(dxml);

    /* no snapshots yet */
    CHECK(virDomainSnapshotNum(dom, 0) == 0);
    CHECK(virDomainHasCurrentSnapshot(dom, 0) == 0);
    CHECK(virDomainSnapshotCurrent(dom, 0) == NULL);
    CHECK_ERR(VIR_ERR_NO_DOMAIN_SNAPSHOT, -1, "does not have a current snapshot");

    /* a -> b -> c, and a -> d */
    virDomainSnapshotPtr a = virDomainSnapshotCreateXML(dom, SNAP_XML("a"), 0);
    CHECK(a != NULL);
    CHECK_NO_ERR();
    virDomainSnapshotPtr b = virDomainSnapshotCreateXML(dom, SNAP_XML("b"), 0);
    virDomainSnapshotPtr c = virDomainSnapshotCreateXML(dom, SNAP_XML("c"), 0);
    CHECK(b && c);
    CHECK(strcmp(virDomainSnapshotGetName(c), "c") == 0);
    CHECK(virDomainSnapshotGetDomain(c) == dom);
    CHECK(virDomainSnapshotGetConnect(c) == conn);
    CHECK(virDomainSnapshotIsCurrent(c, 0) == 1 && virDomainSnapshotIsCurrent(a, 0) == 0);
    CHECK(virDomainSnapshotHasMetadata(c, 0) == 1);
    CHECK(virDomainHasCurrentSnapshot(dom, 0) == 1);
    CHECK(virDomainSnapshotCreateXML(dom, SNAP_XML("a"), 0) == NULL); /* duplicate */
    CHECK(virGetLastError() != NULL);

    CHECK(virDomainRevertToSnapshot(a, 0) == 0);
    CHECK_NO_ERR();
    virDomainSnapshotPtr d = virDomainSnapshotCreateXML(dom, SNAP_XML("d"), 0);
    CHECK(d != NULL);

    CHECK(virDomainSnapshotNum(dom, 0) == 4);
    CHECK(virDomainSnapshotNum(dom, VIR_DOMAIN_SNAPSHOT_LIST_ROOTS) == 1);
    CHECK(virDomainSnapshotNum(dom, VIR_DOMAIN_SNAPSHOT_LIST_LEAVES) == 2);
    char *names[8] = {0};
    int n = virDomainSnapshotListNames(dom, names, 8, 0);
    CHECK(n == 4 && has_name(names, n, "a") && has_name(names, n, "d"));
    for (int i = 0; i < n && i < 8; i++) free(names[i]);
    memset(names, 0, sizeof names);
    n = virDomainSnapshotListNames(dom, names, 1, 0); /* returns the total count */
    CHECK(n == 4 && names[0] != NULL && names[1] == NULL);
    free(names[0]);
    CHECK(virDomainSnapshotListNames(dom, NULL, 0, 0) == 4);

    virDomainSnapshotPtr *snaps = NULL;
    n = virDomainListAllSnapshots(dom, &snaps, VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL);
    CHECK(n == 4 && snaps && snaps[4] == NULL);
    if (snaps && n == 4) CHECK(strcmp(virDomainSnapshotGetName(snaps[0]), "a") == 0);
    for (int i = 0; i < n; i++) CHECK(virDomainSnapshotFree(snaps[i]) == 0);
    free(snaps);
    CHECK(virDomainListAllSnapshots(dom, NULL, 0) == 4);

    CHECK(virDomainSnapshotNumChildren(a, 0) == 2);
    CHECK(virDomainSnapshotNumChildren(a, VIR_DOMAIN_SNAPSHOT_LIST_DESCENDANTS) == 3);
    memset(names, 0, sizeof names);
    n = virDomainSnapshotListChildrenNames(a, names, 8, 0);
    CHECK(n == 2 && has_name(names, n, "b") && has_name(names, n, "d"));
    for (int i = 0; i < n && i < 8; i++) free(names[i]);
    n = virDomainSnapshotListAllChildren(a, &snaps, VIR_DOMAIN_SNAPSHOT_LIST_DESCENDANTS);
    CHECK(n == 3 && snaps[3] == NULL);
    for (int i = 0; i < n; i++) virDomainSnapshotFree(snaps[i]);
    free(snaps);

    virDomainSnapshotPtr p = virDomainSnapshotGetParent(c, 0);
    CHECK(p && strcmp(virDomainSnapshotGetName(p), "b") == 0);
    virDomainSnapshotFree(p);
    CHECK(virDomainSnapshotGetParent(a, 0) == NULL);
    CHECK_ERR(VIR_ERR_NO_DOMAIN_SNAPSHOT, -1, "does not have a parent");

    virDomainSnapshotPtr cur = virDomainSnapshotCurrent(dom, 0);
    CHECK(cur && strcmp(virDomainSnapshotGetName(cur), "d") == 0);
    virDomainSnapshotFree(cur);

    char *xml = virDomainSnapshotGetXMLDesc(b, 0);
    CHECK(xml && strstr(xml, "<name>b</name>") && strstr(xml, "<parent>"));
    free(xml);

    virDomainSnapshotPtr l = virDomainSnapshotLookupByName(dom, "c", 0);
    CHECK(l && l != c && strcmp(virDomainSnapshotGetName(l), "c") == 0);

    /* delete b: c is re-parented to a; handle l stays valid but its snapshot is gone */
    CHECK(virDomainSnapshotDelete(b, 0) == 0);
    CHECK(virDomainSnapshotNum(dom, 0) == 3);
    p = virDomainSnapshotGetParent(c, 0);
    CHECK(p && strcmp(virDomainSnapshotGetName(p), "a") == 0);
    virDomainSnapshotFree(p);
    CHECK(virDomainSnapshotGetXMLDesc(b, 0) == NULL);
    CHECK_ERR(VIR_ERR_NO_DOMAIN_SNAPSHOT, -1, "no domain snapshot with matching name 'b'");
    CHECK(virDomainSnapshotDelete(a, VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY) == 0);
    CHECK(virDomainSnapshotNum(dom, 0) == 1);
    CHECK(virDomainSnapshotIsCurrent(l, 0) == -1);
    CHECK_ERR(VIR_ERR_NO_DOMAIN_SNAPSHOT, -1, "'c'");
    CHECK(virDomainSnapshotDelete(a, 0) == 0);
    CHECK(virDomainSnapshotNum(dom, 0) == 0);

    /* domain lifecycle */
    CHECK(virDomainSuspend(dom) == 0);
    CHECK(virDomainGetState(dom, &state, NULL, 0) == 0 && state == VIR_DOMAIN_PAUSED);
    CHECK(virDomainResume(dom) == 0);
    CHECK(virDomainDestroy(dom) == 0);
    CHECK(virDomainIsActive(dom) == 0);
    CHECK(virDomainCreate(dom) == 0);
    CHECK(virDomainShutdown(dom) == 0);
    CHECK(virDomainCreateWithFlags(dom, 0) == 0);

    /* define / undefine a second domain */
    virDomainPtr nd2 = virDomainDefineXML(conn,
        "<domain type='test'><name>vs-extra</name><memory>8192</memory><vcpu>1</vcpu>"
        "<os><type>hvm</type></os></domain>");
    CHECK(nd2 != NULL);
    if (nd2) {
        CHECK(strcmp(virDomainGetName(nd2), "vs-extra") == 0);
        CHECK(virDomainIsActive(nd2) == 0);
        CHECK(virDomainGetID(nd2) == (unsigned int)-1);
        CHECK(virConnectListAllDomains(conn, NULL, VIR_CONNECT_LIST_DOMAINS_INACTIVE) == 1);
        CHECK(virDomainCreate(nd2) == 0);
        CHECK(virDomainIsActive(nd2) == 1);
        CHECK(virDomainDestroy(nd2) == 0);
        CHECK(virDomainUndefineFlags(nd2, VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA) == 0);
        CHECK(virDomainLookupByName(conn, "vs-extra") == NULL);
        CHECK_ERR(VIR_ERR_NO_DOMAIN, VIR_FROM_TEST, NULL);
        CHECK(virDomainFree(nd2) == 0);
    }
    nd2 = virDomainDefineXML(conn, "<domain type='test'><name>vs-extra2</name><memory>8192</memory>"
                                   "<os><type>hvm</type></os></domain>");
    CHECK(nd2 != NULL);
    if (nd2) {
        CHECK(virDomainUndefine(nd2) == 0);
        CHECK(virDomainFree(nd2) == 0);
    }
    CHECK(virDomainDefineXML(conn, "<domain") == NULL);
    CHECK(virGetLastError() != NULL);

    virDomainSnapshotFree(a); virDomainSnapshotFree(b); virDomainSnapshotFree(c);
    virDomainSnapshotFree(d); virDomainSnapshotFree(l);
    CHECK(virDomainFree(dom) == 0);
    CHECK(virConnectClose(conn) == 0);
    return finish("lifecycle");
}
