/* Binary and source drop-in check. Written only against libvirt's public
 * API: built once with Debian's libvirt-dev (-lvirt) and run on libvirt,
 * then run unchanged with LD_LIBRARY_PATH=target/release/libvirt-compat,
 * and built again from source with -Iinclude -lvirsnap. The three outputs
 * (stdout and libvirt's stderr error lines) must be identical. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

static void err(const char *what) {
    virErrorPtr e = virGetLastError();
    if (!e) { printf("%s: ok\n", what); return; }
    printf("%s: error code=%d domain=%d level=%d message=[%s] str1=[%s] str2=[%s] int1=%d\n", what, e->code,
           e->domain, e->level, e->message ? e->message : "", e->str1 ? e->str1 : "(null)",
           e->str2 ? e->str2 : "(null)", e->int1);
    fflush(stdout);
}

static void print_xml_lines(const char *xml) {
    const char *keys[] = {"<name>", "<description>", "<state>", "<parent>", "</domainsnapshot>", NULL};
    const char *p = xml;
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        for (int i = 0; keys[i]; i++)
            if (memmem(p, len, keys[i], strlen(keys[i])) && !memmem(p, len, "<domain", 7)) {
                printf("  xml: %.*s\n", (int)len, p);
                break;
            }
        p = nl ? nl + 1 : NULL;
    }
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Unordered listings come from libvirt's seeded hash table, so sort them. */
static void list(virDomainPtr dom, unsigned int flags) {
    char *names[16];
    int n = virDomainSnapshotListNames(dom, names, 16, flags);
    if (n > 0 && !(flags & VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL)) qsort(names, n < 16 ? n : 16, sizeof names[0], cmp);
    printf("list(0x%x) = %d:", flags, n);
    for (int i = 0; i < n && i < 16; i++) { printf(" %s", names[i]); free(names[i]); }
    printf("\n");
}

/* NULL handles and NULL/negative arguments on every implemented call. */
static void null_calls(virConnectPtr conn, virDomainPtr dom) {
    char *names[2];
    virDomainSnapshotPtr *snaps;
    virDomainPtr *doms;
    unsigned long ul;
    int st;
    char buf[VIR_UUID_STRING_BUFLEN];
    unsigned char raw[VIR_UUID_BUFLEN];
    virDomainInfo info;
#define N(call) do { (void)(call); err(#call); } while (0)
    N(virDomainSnapshotGetName(NULL));
    N(virDomainSnapshotGetDomain(NULL));
    N(virDomainSnapshotGetConnect(NULL));
    N(virDomainSnapshotCreateXML(NULL, "<domainsnapshot/>", 0));
    N(virDomainSnapshotGetXMLDesc(NULL, 0));
    N(virDomainSnapshotNum(NULL, 0));
    N(virDomainSnapshotListNames(NULL, names, 2, 0));
    N(virDomainListAllSnapshots(NULL, &snaps, 0));
    N(virDomainSnapshotNumChildren(NULL, 0));
    N(virDomainSnapshotListChildrenNames(NULL, names, 2, 0));
    N(virDomainSnapshotListAllChildren(NULL, &snaps, 0));
    N(virDomainSnapshotLookupByName(NULL, "x", 0));
    N(virDomainHasCurrentSnapshot(NULL, 0));
    N(virDomainSnapshotCurrent(NULL, 0));
    N(virDomainSnapshotGetParent(NULL, 0));
    N(virDomainSnapshotIsCurrent(NULL, 0));
    N(virDomainSnapshotHasMetadata(NULL, 0));
    N(virDomainRevertToSnapshot(NULL, 0));
    N(virDomainSnapshotDelete(NULL, 0));
    N(virDomainSnapshotRef(NULL));
    N(virDomainSnapshotFree(NULL));
    N(virConnectClose(NULL));
    N(virConnectRef(NULL));
    N(virConnectGetURI(NULL));
    N(virConnectGetType(NULL));
    N(virConnectGetLibVersion(NULL, &ul));
    N(virConnectListAllDomains(NULL, &doms, 0));
    N(virConnectNumOfDomains(NULL));
    N(virDomainLookupByName(NULL, "test"));
    N(virDomainLookupByUUID(NULL, raw));
    N(virDomainLookupByUUIDString(NULL, "6695eb01-f6a4-8304-79aa-97f2502e193f"));
    N(virDomainLookupByID(NULL, 1));
    N(virDomainFree(NULL));
    N(virDomainRef(NULL));
    N(virDomainGetName(NULL));
    N(virDomainGetUUID(NULL, raw));
    N(virDomainGetUUIDString(NULL, buf));
    N(virDomainGetID(NULL));
    N(virDomainGetState(NULL, &st, NULL, 0));
    N(virDomainGetInfo(NULL, &info));
    N(virDomainIsActive(NULL));
    N(virDomainCreate(NULL));
    N(virDomainCreateWithFlags(NULL, 0));
    N(virDomainDestroy(NULL));
    N(virDomainShutdown(NULL));
    N(virDomainSuspend(NULL));
    N(virDomainResume(NULL));
    N(virDomainDefineXML(NULL, "<domain/>"));
    N(virDomainUndefine(NULL));
    N(virDomainUndefineFlags(NULL, 0));
    N(virDomainGetXMLDesc(NULL, 0));
    N(virDomainGetConnect(NULL));
    N(virDomainSnapshotCreateXML(dom, NULL, 0));
    N(virDomainSnapshotLookupByName(dom, NULL, 0));
    N(virDomainSnapshotListNames(dom, NULL, 1, 0));
    N(virDomainSnapshotListNames(dom, names, -1, 0));
    N(virDomainLookupByName(conn, NULL));
    N(virDomainLookupByUUID(conn, NULL));
    N(virDomainLookupByUUIDString(conn, NULL));
    N(virDomainLookupByUUIDString(conn, "not-a-uuid"));
    N(virDomainLookupByID(conn, -1));
    N(virDomainLookupByID(conn, 42));
    N(virDomainGetUUID(dom, NULL));
    N(virDomainGetUUIDString(dom, NULL));
    N(virDomainGetState(dom, NULL, NULL, 0));
    N(virDomainGetInfo(dom, NULL));
    N(virDomainDefineXML(conn, NULL));
    N(virConnectGetLibVersion(conn, NULL));
    N(virGetVersion(NULL, NULL, NULL));
    N(virDomainGetState(dom, &st, NULL, 1));
    N(virDomainSnapshotNum(dom, 0x10000));
    N(virDomainListAllSnapshots(dom, NULL, 0x10000));
    /* not compared: core names virConnectListAllDomains instead of the test
     * driver's testConnectListAllDomains in the unsupported-flags message */
    N(virDomainCreate(dom));
#undef N
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    setvbuf(stderr, NULL, _IONBF, 0);
    virInitialize();
    unsigned long v = 0;
    printf("virGetVersion=%d %lu\n", virGetVersion(&v, NULL, NULL), v);
    virConnectPtr conn = virConnectOpen("test:///default");
    char *uri = virConnectGetURI(conn);
    printf("uri=%s type=%s domains=%d\n", uri, virConnectGetType(conn), virConnectNumOfDomains(conn));
    free(uri);
    virDomainPtr dom = virDomainLookupByName(conn, "test");
    char uuid[VIR_UUID_STRING_BUFLEN];
    virDomainGetUUIDString(dom, uuid);
    int st = -1, reason = -1;
    virDomainGetState(dom, &st, &reason, 0);
    printf("domain %s id=%u uuid=%s state=%d reason=%d active=%d\n", virDomainGetName(dom), virDomainGetID(dom),
           uuid, st, reason, virDomainIsActive(dom));
    null_calls(conn, dom);
    printf("num=%d hascurrent=%d\n", virDomainSnapshotNum(dom, 0), virDomainHasCurrentSnapshot(dom, 0));
    printf("current=%p\n", (void *)virDomainSnapshotCurrent(dom, 0));
    err("current");

    virDomainSnapshotPtr s1 = virDomainSnapshotCreateXML(dom,
        "<domainsnapshot><name>s1</name><description>first</description></domainsnapshot>", 0);
    err("create s1");
    virDomainSnapshotPtr s2 = virDomainSnapshotCreateXML(dom, "<domainsnapshot><name>s2</name></domainsnapshot>", 0);
    err("create s2");
    virDomainSuspend(dom);
    virDomainSnapshotPtr s3 = virDomainSnapshotCreateXML(dom, "<domainsnapshot><name>s3</name></domainsnapshot>", 0);
    err("create s3 (paused)");
    virDomainResume(dom);
    printf("dup=%p\n", (void *)virDomainSnapshotCreateXML(dom, "<domainsnapshot><name>s1</name></domainsnapshot>", 0));
    err("create duplicate");
    printf("badflag=%p\n", (void *)virDomainSnapshotCreateXML(dom, "<domainsnapshot/>", 0x400));
    err("create bad flag");
    printf("current-only=%p\n", (void *)virDomainSnapshotCreateXML(dom, "<domainsnapshot/>", VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT));
    err("create CURRENT without REDEFINE");
    printf("nullxml=%p\n", (void *)virDomainSnapshotCreateXML(dom, NULL, 0));
    err("create NULL xml");

    list(dom, 0);
    list(dom, VIR_DOMAIN_SNAPSHOT_LIST_ROOTS);
    list(dom, VIR_DOMAIN_SNAPSHOT_LIST_LEAVES);
    list(dom, VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL);
    list(dom, VIR_DOMAIN_SNAPSHOT_LIST_ACTIVE);
    list(dom, VIR_DOMAIN_SNAPSHOT_LIST_INACTIVE);
    printf("listnames(-1)=%d\n", virDomainSnapshotListNames(dom, NULL, -1, 0));
    err("listnames -1");

    char *xml = virDomainSnapshotGetXMLDesc(s3, 0);
    print_xml_lines(xml);
    free(xml);
    printf("s2 current=%d s3 current=%d meta=%d children(s1)=%d desc(s1)=%d\n", virDomainSnapshotIsCurrent(s2, 0),
           virDomainSnapshotIsCurrent(s3, 0), virDomainSnapshotHasMetadata(s3, 0),
           virDomainSnapshotNumChildren(s1, 0), virDomainSnapshotNumChildren(s1, VIR_DOMAIN_SNAPSHOT_LIST_DESCENDANTS));
    virDomainSnapshotPtr p = virDomainSnapshotGetParent(s3, 0);
    printf("parent(s3)=%s\n", p ? virDomainSnapshotGetName(p) : "(null)");
    if (p) virDomainSnapshotFree(p);
    printf("parent(s1)=%p\n", (void *)virDomainSnapshotGetParent(s1, 0));
    err("parent of root");

    printf("revert s1=%d\n", virDomainRevertToSnapshot(s1, 0));
    virDomainGetState(dom, &st, &reason, 0);
    printf("state=%d reason=%d\n", st, reason);
    printf("revert s3=%d\n", virDomainRevertToSnapshot(s3, 0));
    virDomainGetState(dom, &st, &reason, 0);
    printf("state=%d reason=%d\n", st, reason);
    printf("revert s1 running|paused=%d\n", virDomainRevertToSnapshot(s1, VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING | VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED));
    err("revert exclusive");
    printf("revert s1 running=%d\n", virDomainRevertToSnapshot(s1, VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING));
    virDomainGetState(dom, &st, &reason, 0);
    printf("state=%d reason=%d\n", st, reason);

    virDomainSnapshotPtr *snaps = NULL;
    int n = virDomainListAllSnapshots(dom, &snaps, VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL);
    printf("listall=%d:", n);
    for (int i = 0; i < n; i++) { printf(" %s", virDomainSnapshotGetName(snaps[i])); virDomainSnapshotFree(snaps[i]); }
    printf(" last=%p\n", n >= 0 ? (void *)snaps[n] : NULL);
    free(snaps);
    n = virDomainSnapshotListAllChildren(s1, &snaps, 0);
    printf("children(s1)=%d\n", n);
    for (int i = 0; i < n; i++) virDomainSnapshotFree(snaps[i]);
    free(snaps);

    printf("lookup nope=%p\n", (void *)virDomainSnapshotLookupByName(dom, "nope", 0));
    err("lookup nope");
    printf("lookup dom nope=%p\n", (void *)virDomainLookupByName(conn, "nope"));
    err("lookup domain nope");

    printf("delete s2=%d\n", virDomainSnapshotDelete(s2, 0));
    list(dom, 0);
    printf("s2 xml after delete=%p\n", (void *)virDomainSnapshotGetXMLDesc(s2, 0));
    err("xml of deleted");
    printf("delete s1 children-only=%d\n", virDomainSnapshotDelete(s1, VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY));
    list(dom, 0);
    printf("ref=%d\n", virDomainSnapshotRef(s1));
    printf("free=%d\n", virDomainSnapshotFree(s1));
    printf("free=%d\n", virDomainSnapshotFree(s1));
    printf("getname(NULL)=%p\n", (void *)virDomainSnapshotGetName(NULL));
    err("getname NULL");

    virConnectPtr ro = virConnectOpenReadOnly("test:///default");
    virDomainPtr rdom = virDomainLookupByName(ro, "test");
    printf("ro create=%p\n", (void *)virDomainSnapshotCreateXML(rdom, "<domainsnapshot/>", 0));
    err("ro create");
    virDomainFree(rdom);
    printf("ro close=%d\n", virConnectClose(ro));

    virSaveLastError();
    virErrorPtr saved = virSaveLastError();
    printf("saved code=%d\n", saved ? saved->code : -1);
    virFreeError(saved);
    virResetLastError();
    printf("after reset: %p [%s]\n", (void *)virGetLastError(), virGetLastErrorMessage());

    virDomainSnapshotFree(s2);
    virDomainSnapshotFree(s3);
    printf("domfree=%d\n", virDomainFree(dom));
    printf("ref=%d\n", virConnectRef(conn));
    printf("close=%d\n", virConnectClose(conn));
    printf("close=%d\n", virConnectClose(conn));
    return 0;
}
