/* Ownership rules (style.md §8.2/§8.3): Ref/Free counts, borrowed pointers,
 * snapshot handles keeping their domain and connection alive, malloc'd
 * strings and arrays, GetName stability across a rename, virConnectClose's
 * return value. */
#include "common.h"

int main(void) {
    virSetErrorFunc(NULL, quiet_handler);
    virConnectPtr conn = virConnectOpen("test:///default");
    CHECK(conn != NULL);
    /* Ref + Close: 1 then 0 (libvirt's observed values) */
    CHECK(virConnectRef(conn) == 0);
    CHECK(virConnectClose(conn) == 1);

    virDomainPtr dom = virDomainLookupByName(conn, "test");
    virDomainSnapshotPtr s = virDomainSnapshotCreateXML(dom, SNAP_XML("r1"), 0);
    CHECK(dom && s);

    /* snapshot Ref then two Frees both succeed; a third is refused */
    CHECK(virDomainSnapshotRef(s) == 0);
    CHECK(virDomainSnapshotFree(s) == 0);
    CHECK(strcmp(virDomainSnapshotGetName(s), "r1") == 0);

    /* two lookups give different pointers, each its own reference */
    virDomainSnapshotPtr l1 = virDomainSnapshotLookupByName(dom, "r1", 0);
    virDomainSnapshotPtr l2 = virDomainSnapshotLookupByName(dom, "r1", 0);
    CHECK(l1 && l2 && l1 != l2 && l1 != s);
    CHECK(virDomainSnapshotFree(l1) == 0 && virDomainSnapshotFree(l2) == 0);

    /* the snapshot keeps domain and connection alive after the caller's
     * references are gone; the borrowed pointers keep resolving */
    CHECK(virDomainFree(dom) == 0);
    CHECK(virConnectClose(conn) == 1); /* still referenced by the snapshot */
    virDomainPtr bd = virDomainSnapshotGetDomain(s);
    virConnectPtr bc = virDomainSnapshotGetConnect(s);
    CHECK(bd == dom && bc == conn);
    CHECK(strcmp(virDomainGetName(bd), "test") == 0);
    CHECK(virDomainGetConnect(bd) == bc);
    char *uri = virConnectGetURI(bc);
    CHECK(uri && strcmp(uri, "test:///default") == 0);
    free(uri);
    /* C owns no reference to the borrowed domain: Free is refused ... */
    CHECK(virDomainFree(bd) == -1);
    CHECK_ERR(VIR_ERR_INVALID_DOMAIN, VIR_FROM_DOM, "virDomainFree");
    /* ... but the libvirt idiom virDomainRef(virDomainSnapshotGetDomain(s)) works */
    CHECK(virDomainRef(bd) == 0);
    CHECK(virConnectRef(bc) == 0);
    CHECK(virDomainSnapshotFree(s) == 0); /* last snapshot reference */
    CHECK(virDomainSnapshotGetName(s) == NULL);
    CHECK_ERR(VIR_ERR_INVALID_DOMAIN_SNAPSHOT, VIR_FROM_DOMAIN_SNAPSHOT, NULL);
    CHECK(virDomainSnapshotFree(s) == -1); /* over-free refused */
    CHECK(strcmp(virDomainGetName(bd), "test") == 0); /* our own ref now */
    dom = bd;
    conn = bc;

    /* ListAll: a malloc'd NULL-terminated array of new references */
    virDomainSnapshotPtr *snaps = NULL;
    int n = virDomainListAllSnapshots(dom, &snaps, 0);
    CHECK(n == 1 && snaps && snaps[0] && snaps[1] == NULL);
    virDomainSnapshotPtr keep = n > 0 ? snaps[0] : NULL;
    free(snaps); /* freeing the array does not free the references */
    CHECK(keep && strcmp(virDomainSnapshotGetName(keep), "r1") == 0);

    /* GetName stays valid for the handle's life, even across a rename */
    const char *old = virDomainSnapshotGetName(keep);
    CHECK(virDomainSnapshotRename(keep, (char *)"r2", 0) == 0);
    const char *new_name = virDomainSnapshotGetName(keep);
    CHECK(strcmp(old, "r1") == 0 && strcmp(new_name, "r2") == 0);
    CHECK(virDomainSnapshotGetName(keep) == new_name);
    CHECK(virDomainSnapshotLookupByName(dom, "r1", 0) == NULL);
    CHECK_ERR(VIR_ERR_NO_DOMAIN_SNAPSHOT, -1, NULL);

    /* extension: UUIDs */
    char u1[VIR_UUID_STRING_BUFLEN] = {0};
    CHECK(virDomainSnapshotGetUUIDString(keep, u1) == 0 && strlen(u1) == 36);
    virDomainSnapshotPtr byu = virDomainSnapshotLookupByUUIDString(dom, u1, 0);
    CHECK(byu && strcmp(virDomainSnapshotGetName(byu), "r2") == 0);
    virDomainSnapshotFree(byu);
    char *names[4] = {0};
    CHECK(virDomainListSnapshotNames(dom, names, 4, 0) == 1 && names[0] && strcmp(names[0], "r2") == 0);
    free(names[0]);
    CHECK(virDomainCreateFromSnapshot(keep, 0) == 0);
    int st = 0;
    CHECK(virDomainGetState(dom, &st, NULL, 0) == 0 && st == VIR_DOMAIN_RUNNING);

    /* XML strings are malloc'd */
    char *xml = virDomainSnapshotGetXMLDesc(keep, 0);
    CHECK(xml != NULL);
    free(xml);

    /* ListAllDomains array */
    virDomainPtr *doms = NULL;
    n = virConnectListAllDomains(conn, &doms, 0);
    CHECK(n == 1 && doms[1] == NULL && doms[0] != dom);
    for (int i = 0; i < n; i++) CHECK(virDomainFree(doms[i]) == 0);
    free(doms);

    CHECK(virDomainSnapshotDelete(keep, 0) == 0);
    CHECK(virDomainSnapshotFree(keep) == 0);
    CHECK(virDomainFree(dom) == 0);
    CHECK(virDomainFree(dom) == -1);
    CHECK(virConnectClose(conn) == 0);  /* our virConnectRef was the last reference */
    CHECK(virConnectClose(conn) == -1); /* stale */
    return finish("refcount");
}
