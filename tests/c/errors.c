/* Every error path of the boundary: NULL, stale, double-freed, forged and
 * wrong-type handles; NULL/negative arguments; read-only connections; flag
 * checks; the error functions; handlers and libvirt's default stderr line. */
#include "common.h"
#include <unistd.h>

#define SNAP_INVALID(call, fn) do { call; CHECK_ERR(VIR_ERR_INVALID_DOMAIN_SNAPSHOT, VIR_FROM_DOMAIN_SNAPSHOT, \
    "Invalid domain snapshot: " fn); } while (0)
#define DOM_INVALID(call, fn) do { call; CHECK_ERR(VIR_ERR_INVALID_DOMAIN, VIR_FROM_DOM, \
    "invalid domain pointer in " fn); } while (0)
#define CONN_INVALID(call, fn) do { call; CHECK_ERR(VIR_ERR_INVALID_CONN, -1, \
    "invalid connection pointer in " fn); } while (0)

static void all_snapshot_calls(virDomainSnapshotPtr s) {
    char *names[2];
    virDomainSnapshotPtr *list = (virDomainSnapshotPtr *)&names;
    char buf[VIR_UUID_STRING_BUFLEN];
    SNAP_INVALID(CHECK(virDomainSnapshotGetName(s) == NULL), "virDomainSnapshotGetName");
    SNAP_INVALID(CHECK(virDomainSnapshotGetDomain(s) == NULL), "virDomainSnapshotGetDomain");
    SNAP_INVALID(CHECK(virDomainSnapshotGetConnect(s) == NULL), "virDomainSnapshotGetConnect");
    SNAP_INVALID(CHECK(virDomainSnapshotGetXMLDesc(s, 0) == NULL), "virDomainSnapshotGetXMLDesc");
    SNAP_INVALID(CHECK(virDomainSnapshotNumChildren(s, 0) == -1), "virDomainSnapshotNumChildren");
    SNAP_INVALID(CHECK(virDomainSnapshotListChildrenNames(s, names, 2, 0) == -1), "virDomainSnapshotListChildrenNames");
    SNAP_INVALID(CHECK(virDomainSnapshotListAllChildren(s, &list, 0) == -1 && list == NULL), "virDomainSnapshotListAllChildren");
    SNAP_INVALID(CHECK(virDomainSnapshotGetParent(s, 0) == NULL), "virDomainSnapshotGetParent");
    SNAP_INVALID(CHECK(virDomainSnapshotIsCurrent(s, 0) == -1), "virDomainSnapshotIsCurrent");
    SNAP_INVALID(CHECK(virDomainSnapshotHasMetadata(s, 0) == -1), "virDomainSnapshotHasMetadata");
    SNAP_INVALID(CHECK(virDomainRevertToSnapshot(s, 0) == -1), "virDomainRevertToSnapshot");
    SNAP_INVALID(CHECK(virDomainSnapshotDelete(s, 0) == -1), "virDomainSnapshotDelete");
    SNAP_INVALID(CHECK(virDomainSnapshotRef(s) == -1), "virDomainSnapshotRef");
    SNAP_INVALID(CHECK(virDomainSnapshotFree(s) == -1), "virDomainSnapshotFree");
    SNAP_INVALID(CHECK(virDomainCreateFromSnapshot(s, 0) == -1), "virDomainCreateFromSnapshot");
    SNAP_INVALID(CHECK(virDomainSnapshotRename(s, (char *)"x", 0) == -1), "virDomainSnapshotRename");
    SNAP_INVALID(CHECK(virDomainSnapshotGetUUIDString(s, buf) == -1), "virDomainSnapshotGetUUIDString");
}

static void all_domain_calls(virDomainPtr d) {
    char *names[2];
    virDomainSnapshotPtr *list = (virDomainSnapshotPtr *)&names;
    char buf[VIR_UUID_STRING_BUFLEN];
    unsigned char raw[VIR_UUID_BUFLEN];
    int st;
    virDomainInfo info;
    DOM_INVALID(CHECK(virDomainSnapshotCreateXML(d, SNAP_XML("x"), 0) == NULL), "virDomainSnapshotCreateXML");
    DOM_INVALID(CHECK(virDomainSnapshotNum(d, 0) == -1), "virDomainSnapshotNum");
    DOM_INVALID(CHECK(virDomainSnapshotListNames(d, names, 2, 0) == -1), "virDomainSnapshotListNames");
    DOM_INVALID(CHECK(virDomainListAllSnapshots(d, &list, 0) == -1 && list == NULL), "virDomainListAllSnapshots");
    DOM_INVALID(CHECK(virDomainSnapshotLookupByName(d, "x", 0) == NULL), "virDomainSnapshotLookupByName");
    DOM_INVALID(CHECK(virDomainHasCurrentSnapshot(d, 0) == -1), "virDomainHasCurrentSnapshot");
    DOM_INVALID(CHECK(virDomainSnapshotCurrent(d, 0) == NULL), "virDomainSnapshotCurrent");
    DOM_INVALID(CHECK(virDomainFree(d) == -1), "virDomainFree");
    DOM_INVALID(CHECK(virDomainRef(d) == -1), "virDomainRef");
    DOM_INVALID(CHECK(virDomainGetName(d) == NULL), "virDomainGetName");
    DOM_INVALID(CHECK(virDomainGetUUID(d, raw) == -1), "virDomainGetUUID");
    DOM_INVALID(CHECK(virDomainGetUUIDString(d, buf) == -1), "virDomainGetUUIDString");
    DOM_INVALID(CHECK(virDomainGetID(d) == (unsigned int)-1), "virDomainGetID");
    DOM_INVALID(CHECK(virDomainGetState(d, &st, NULL, 0) == -1), "virDomainGetState");
    DOM_INVALID(CHECK(virDomainGetInfo(d, &info) == -1), "virDomainGetInfo");
    DOM_INVALID(CHECK(virDomainIsActive(d) == -1), "virDomainIsActive");
    DOM_INVALID(CHECK(virDomainCreate(d) == -1), "virDomainCreate");
    DOM_INVALID(CHECK(virDomainCreateWithFlags(d, 0) == -1), "virDomainCreateWithFlags");
    DOM_INVALID(CHECK(virDomainDestroy(d) == -1), "virDomainDestroy");
    DOM_INVALID(CHECK(virDomainShutdown(d) == -1), "virDomainShutdown");
    DOM_INVALID(CHECK(virDomainSuspend(d) == -1), "virDomainSuspend");
    DOM_INVALID(CHECK(virDomainResume(d) == -1), "virDomainResume");
    DOM_INVALID(CHECK(virDomainUndefine(d) == -1), "virDomainUndefine");
    DOM_INVALID(CHECK(virDomainUndefineFlags(d, 0) == -1), "virDomainUndefineFlags");
    DOM_INVALID(CHECK(virDomainGetXMLDesc(d, 0) == NULL), "virDomainGetXMLDesc");
    DOM_INVALID(CHECK(virDomainGetConnect(d) == NULL), "virDomainGetConnect");
    DOM_INVALID(CHECK(virDomainListSnapshotNames(d, names, 2, 0) == -1), "virDomainListSnapshotNames");
    DOM_INVALID(CHECK(virDomainSnapshotLookupByUUIDString(d, "x", 0) == NULL), "virDomainSnapshotLookupByUUIDString");
}

static void all_conn_calls(virConnectPtr c) {
    unsigned long v;
    virDomainPtr *doms = (virDomainPtr *)&v;
    CONN_INVALID(CHECK(virConnectClose(c) == -1), "virConnectClose");
    CONN_INVALID(CHECK(virConnectRef(c) == -1), "virConnectRef");
    CONN_INVALID(CHECK(virConnectGetURI(c) == NULL), "virConnectGetURI");
    CONN_INVALID(CHECK(virConnectGetType(c) == NULL), "virConnectGetType");
    CONN_INVALID(CHECK(virConnectGetLibVersion(c, &v) == -1), "virConnectGetLibVersion");
    CONN_INVALID(CHECK(virConnectNumOfDomains(c) == -1), "virConnectNumOfDomains");
    CONN_INVALID(CHECK(virConnectListAllDomains(c, &doms, 0) == -1 && doms == NULL), "virConnectListAllDomains");
    CONN_INVALID(CHECK(virDomainLookupByName(c, "test") == NULL), "virDomainLookupByName");
    CONN_INVALID(CHECK(virDomainLookupByUUIDString(c, "6695eb01-f6a4-8304-79aa-97f2502e193f") == NULL), "virDomainLookupByUUIDString");
    CONN_INVALID(CHECK(virDomainLookupByUUID(c, (const unsigned char *)"0123456789abcdef") == NULL), "virDomainLookupByUUID");
    CONN_INVALID(CHECK(virDomainLookupByID(c, 1) == NULL), "virDomainLookupByID");
    CONN_INVALID(CHECK(virDomainDefineXML(c, "<domain/>") == NULL), "virDomainDefineXML");
    CHECK(virConnGetLastError(c) == NULL);
}

static int handler_calls;
static int handler_last_code;
static void counting_handler(void *data, virErrorPtr err) {
    (void)data;
    handler_calls++;
    handler_last_code = err ? err->code : -1;
}
static int conn_handler_calls;
static void conn_handler(void *data, virErrorPtr err) {
    (void)err;
    (*(int *)data)++;
    conn_handler_calls++;
}

int main(void) {
    virSetErrorFunc(NULL, quiet_handler);
    /* before any call: no error */
    CHECK(virGetLastError() == NULL);
    CHECK(virGetLastErrorCode() == VIR_ERR_OK);
    CHECK(strcmp(virGetLastErrorMessage(), "no error") == 0);

    virConnectPtr conn = virConnectOpen("test:///default");
    virDomainPtr dom = virDomainLookupByName(conn, "test");
    CHECK(conn && dom);

    /* NULL handles */
    all_snapshot_calls(NULL);
    all_domain_calls(NULL);
    all_conn_calls(NULL);
    virConnectClose(NULL);
    CHECK_ERR(VIR_ERR_INVALID_CONN, VIR_FROM_NONE, NULL);
    virConnectGetURI(NULL);
    CHECK_ERR(VIR_ERR_INVALID_CONN, VIR_FROM_DOMAIN, NULL);
    virErrorPtr e = virGetLastError();
    CHECK(e && e->level == VIR_ERR_ERROR && e->str1 && strcmp(e->str1, "invalid connection pointer in %s") == 0);
    CHECK(e && e->str2 && strcmp(e->str2, "virConnectGetURI") == 0 && e->int1 == -1);

    /* forged pointers: random addresses, stack memory, wrong handle kind */
    int on_stack = 0;
    all_snapshot_calls((virDomainSnapshotPtr)(void *)&on_stack);
    all_snapshot_calls((virDomainSnapshotPtr)(void *)dom);
    all_domain_calls((virDomainPtr)(void *)0x1234);
    all_domain_calls((virDomainPtr)(void *)conn);
    all_conn_calls((virConnectPtr)(void *)dom);
    all_conn_calls((virConnectPtr)(void *)~(size_t)0);

    /* stale (freed) and double-freed handles */
    virDomainSnapshotPtr s = virDomainSnapshotCreateXML(dom, SNAP_XML("s1"), 0);
    CHECK(s != NULL);
    CHECK(virDomainSnapshotFree(s) == 0);
    all_snapshot_calls(s);
    virDomainPtr d2 = virDomainLookupByName(conn, "test");
    CHECK(virDomainFree(d2) == 0);
    all_domain_calls(d2);
    virConnectPtr c2 = virConnectOpen("test:///default");
    CHECK(virConnectClose(c2) == 0);
    all_conn_calls(c2);

    /* NULL and negative arguments */
    CHECK(virDomainSnapshotCreateXML(dom, NULL, 0) == NULL);
    CHECK_ERR(VIR_ERR_INVALID_ARG, VIR_FROM_DOMAIN_SNAPSHOT, "xmlDesc in virDomainSnapshotCreateXML must not be NULL");
    CHECK(virDomainSnapshotLookupByName(dom, NULL, 0) == NULL);
    CHECK_ERR(VIR_ERR_INVALID_ARG, VIR_FROM_DOMAIN_SNAPSHOT, "name in virDomainSnapshotLookupByName must not be NULL");
    e = virGetLastError();
    CHECK(e && e->int1 == 0 && e->str1 && strcmp(e->str1, "virDomainSnapshotLookupByName") == 0 && strcmp(e->str2, "name") == 0);
    CHECK(virDomainSnapshotListNames(dom, NULL, -1, 0) == -1);
    CHECK_ERR(VIR_ERR_INVALID_ARG, VIR_FROM_DOMAIN_SNAPSHOT, "nameslen in virDomainSnapshotListNames must be zero or greater");
    CHECK(virDomainSnapshotListNames(dom, NULL, 1, 0) == -1);
    CHECK_ERR(VIR_ERR_INVALID_ARG, VIR_FROM_DOMAIN_SNAPSHOT, "names in virDomainSnapshotListNames must not be NULL");
    CHECK(virDomainSnapshotListNames(dom, NULL, 0, 0) == 1);
    CHECK_NO_ERR();
    virDomainSnapshotPtr s1 = virDomainSnapshotLookupByName(dom, "s1", 0);
    CHECK(s1 != NULL);
    CHECK(virDomainSnapshotListChildrenNames(s1, NULL, -5, 0) == -1);
    CHECK_ERR(VIR_ERR_INVALID_ARG, VIR_FROM_DOMAIN_SNAPSHOT, "nameslen in virDomainSnapshotListChildrenNames must be zero or greater");
    CHECK(virDomainSnapshotRename(s1, NULL, 0) == -1);
    CHECK_ERR(VIR_ERR_INVALID_ARG, VIR_FROM_DOMAIN_SNAPSHOT, "newname in virDomainSnapshotRename must not be NULL");
    CHECK(virDomainSnapshotGetUUIDString(s1, NULL) == -1);
    CHECK_ERR(VIR_ERR_INVALID_ARG, -1, "buf in virDomainSnapshotGetUUIDString must not be NULL");
    CHECK(virDomainLookupByName(conn, NULL) == NULL);
    CHECK_ERR(VIR_ERR_INVALID_ARG, VIR_FROM_DOMAIN, "name in virDomainLookupByName must not be NULL");
    CHECK(virDomainLookupByUUIDString(conn, NULL) == NULL);
    CHECK_ERR(VIR_ERR_INVALID_ARG, VIR_FROM_DOMAIN, "uuidstr in virDomainLookupByUUIDString must not be NULL");
    CHECK(virDomainLookupByUUIDString(conn, "zzz") == NULL);
    CHECK_ERR(VIR_ERR_INVALID_ARG, VIR_FROM_DOMAIN, "Invalid UUID");
    CHECK(virDomainLookupByUUID(conn, NULL) == NULL);
    CHECK_ERR(VIR_ERR_INVALID_ARG, VIR_FROM_DOMAIN, "uuid in virDomainLookupByUUID must not be NULL");
    CHECK(virDomainLookupByID(conn, -1) == NULL);
    CHECK_ERR(VIR_ERR_INVALID_ARG, VIR_FROM_DOMAIN, "id in virDomainLookupByID must be zero or greater");
    CHECK(virDomainGetUUIDString(dom, NULL) == -1);
    CHECK_ERR(VIR_ERR_INVALID_ARG, VIR_FROM_DOMAIN, "buf in virDomainGetUUIDString must not be NULL");
    CHECK(virDomainGetUUID(dom, NULL) == -1);
    CHECK_ERR(VIR_ERR_INVALID_ARG, VIR_FROM_DOMAIN, "uuid in virDomainGetUUID must not be NULL");
    CHECK(virDomainGetState(dom, NULL, NULL, 0) == -1);
    CHECK_ERR(VIR_ERR_INVALID_ARG, VIR_FROM_DOMAIN, "state in virDomainGetState must not be NULL");
    CHECK(virDomainGetInfo(dom, NULL) == -1);
    CHECK_ERR(VIR_ERR_INVALID_ARG, VIR_FROM_DOMAIN, "info in virDomainGetInfo must not be NULL");
    CHECK(virConnectGetLibVersion(conn, NULL) == -1);
    CHECK_ERR(VIR_ERR_INVALID_ARG, VIR_FROM_DOMAIN, "libVer in virConnectGetLibVersion must not be NULL");
    CHECK(virDomainDefineXML(conn, NULL) == NULL);
    CHECK_ERR(VIR_ERR_INVALID_ARG, VIR_FROM_DOMAIN, "xml in virDomainDefineXML must not be NULL");
    CHECK(virGetVersion(NULL, NULL, NULL) == -1);
    CHECK_ERR(VIR_ERR_INTERNAL_ERROR, VIR_FROM_NONE, "An error occurred, but the cause is unknown");

    /* not found */
    CHECK(virDomainLookupByName(conn, "nope") == NULL);
    CHECK_ERR(VIR_ERR_NO_DOMAIN, VIR_FROM_TEST, NULL);
    CHECK(virDomainSnapshotLookupByName(dom, "nope", 0) == NULL);
    CHECK_ERR(VIR_ERR_NO_DOMAIN_SNAPSHOT, -1, "no domain snapshot with matching name 'nope'");

    /* flag checks */
    CHECK(virDomainSnapshotCreateXML(dom, SNAP_XML("f"), VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT) == NULL);
    CHECK_ERR(VIR_ERR_INVALID_ARG, VIR_FROM_DOMAIN_SNAPSHOT,
              "Flag 'VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE' is required by flag 'VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT'");
    CHECK(virDomainSnapshotCreateXML(dom, SNAP_XML("f"), 0x400) == NULL);
    CHECK_ERR(VIR_ERR_INVALID_ARG, VIR_FROM_TEST, "unsupported flags (0x400) in function testDomainSnapshotCreateXML");
    CHECK(virDomainRevertToSnapshot(s1, VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING | VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED) == -1);
    CHECK_ERR(VIR_ERR_INVALID_ARG, VIR_FROM_DOMAIN_SNAPSHOT, "mutually exclusive");
    CHECK(virDomainSnapshotDelete(s1, VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN | VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY) == -1);
    CHECK_ERR(VIR_ERR_INVALID_ARG, VIR_FROM_DOMAIN_SNAPSHOT, "mutually exclusive");
    CHECK(virDomainSnapshotDelete(s1, VIR_DOMAIN_SNAPSHOT_DELETE_MERGE | VIR_DOMAIN_SNAPSHOT_DELETE_DISCARD) == -1);
    CHECK_ERR(VIR_ERR_INVALID_ARG, VIR_FROM_DOMAIN_SNAPSHOT, "mutually exclusive");

    /* read-only connection */
    virConnectPtr ro = virConnectOpenReadOnly("test:///default");
    virDomainPtr rdom = virDomainLookupByName(ro, "test");
    CHECK(ro && rdom);
    CHECK(virDomainSnapshotCreateXML(rdom, SNAP_XML("r"), 0) == NULL);
    CHECK_ERR(VIR_ERR_OPERATION_DENIED, VIR_FROM_DOMAIN_SNAPSHOT, "operation forbidden: read only access prevents virDomainSnapshotCreateXML");
    virDomainSnapshotPtr rs = virDomainSnapshotLookupByName(rdom, "s1", 0);
    CHECK(rs != NULL);
    CHECK(virDomainSnapshotDelete(rs, 0) == -1);
    CHECK_ERR(VIR_ERR_OPERATION_DENIED, VIR_FROM_DOMAIN_SNAPSHOT, "read only access prevents virDomainSnapshotDelete");
    CHECK(virDomainRevertToSnapshot(rs, 0) == -1);
    CHECK_ERR(VIR_ERR_OPERATION_DENIED, VIR_FROM_DOMAIN_SNAPSHOT, "read only access prevents virDomainRevertToSnapshot");
    CHECK(virDomainSnapshotGetXMLDesc(rs, VIR_DOMAIN_SNAPSHOT_XML_SECURE) == NULL);
    CHECK_ERR(VIR_ERR_OPERATION_DENIED, VIR_FROM_DOMAIN_SNAPSHOT, "virDomainSnapshotGetXMLDesc with secure flag");
    CHECK(virDomainSuspend(rdom) == -1);
    CHECK_ERR(VIR_ERR_OPERATION_DENIED, VIR_FROM_DOMAIN, "operation forbidden: read only access prevents virDomainSuspend");
    CHECK(virDomainUndefine(rdom) == -1);
    CHECK_ERR(VIR_ERR_OPERATION_DENIED, VIR_FROM_DOMAIN, "read only access prevents virDomainUndefine");
    CHECK(virDomainDefineXML(ro, "<domain/>") == NULL);
    CHECK_ERR(VIR_ERR_OPERATION_DENIED, VIR_FROM_DOMAIN, "read only access prevents virDomainDefineXML");
    CHECK(virDomainGetXMLDesc(rdom, VIR_DOMAIN_XML_SECURE) == NULL);
    CHECK_ERR(VIR_ERR_OPERATION_DENIED, VIR_FROM_DOMAIN, "virDomainGetXMLDesc with secure flag");
    virDomainSnapshotFree(rs);
    virDomainFree(rdom);
    virConnectClose(ro);

    /* success clears the last error */
    CHECK(virDomainLookupByName(conn, "nope") == NULL);
    CHECK(virGetLastError() != NULL);
    CHECK(virDomainSnapshotNum(dom, 0) == 1);
    CHECK(virGetLastError() == NULL);
    CHECK(virGetLastErrorCode() == 0 && virGetLastErrorDomain() == 0);

    /* save / copy / reset / free */
    CHECK(virDomainSnapshotLookupByName(dom, "nope", 0) == NULL);
    virErrorPtr saved = virSaveLastError();
    CHECK(saved && saved->code == VIR_ERR_NO_DOMAIN_SNAPSHOT && saved->message && saved != virGetLastError());
    virError copy;
    memset(&copy, 0, sizeof copy);
    CHECK(virCopyLastError(&copy) == VIR_ERR_NO_DOMAIN_SNAPSHOT);
    CHECK(copy.message && strcmp(copy.message, saved->message) == 0 && copy.message != saved->message);
    virResetError(&copy);
    CHECK(copy.code == 0 && copy.message == NULL);
    virResetError(NULL);
    virFreeError(saved);
    virFreeError(NULL);
    CHECK(virGetLastErrorCode() == VIR_ERR_NO_DOMAIN_SNAPSHOT); /* reading does not reset */
    CHECK(virGetLastErrorDomain() == VIR_FROM_TEST);
    virResetLastError();
    CHECK(virGetLastError() == NULL);
    saved = virSaveLastError();
    CHECK(saved && saved->code == 0);
    virFreeError(saved);

    /* handlers: global, per-connection, reset to default */
    virSetErrorFunc(NULL, counting_handler);
    CHECK(virDomainSnapshotLookupByName(dom, "nope", 0) == NULL);
    CHECK(handler_calls == 1 && handler_last_code == VIR_ERR_NO_DOMAIN_SNAPSHOT);
    CHECK(virDomainSnapshotNum(dom, 0) == 1);
    CHECK(handler_calls == 1);
    int conn_count = 0;
    virConnSetErrorFunc(conn, &conn_count, conn_handler);
    CHECK(virDomainSnapshotLookupByName(dom, "nope", 0) == NULL);
    CHECK(conn_count == 1 && handler_calls == 1);
    virErrorPtr ce = virConnGetLastError(conn);
    CHECK(ce && ce->code == VIR_ERR_NO_DOMAIN_SNAPSHOT);
    virConnResetLastError(conn);
    CHECK(ce && ce->code == 0);
    virConnSetErrorFunc(conn, NULL, NULL);
    CHECK(virDomainGetName(NULL) == NULL);
    CHECK(handler_calls == 2);
    virConnSetErrorFunc(NULL, NULL, NULL);
    virConnResetLastError(NULL);

    /* default handler: libvirt's stderr line (checked by capturing stderr) */
    virSetErrorFunc(NULL, NULL);
    fflush(stderr);
    int saved_fd = dup(2);
    FILE *tmp = tmpfile();
    dup2(fileno(tmp), 2);
    CHECK(virDomainSnapshotLookupByName(dom, "nope", 0) == NULL);
    CHECK(virDomainSnapshotGetName(NULL) == NULL);
    virDefaultErrorFunc(virGetLastError());
    virDefaultErrorFunc(NULL);
    fflush(stderr);
    dup2(saved_fd, 2);
    close(saved_fd);
    char out[1024] = {0};
    rewind(tmp);
    size_t got = fread(out, 1, sizeof out - 1, tmp);
    fclose(tmp);
    CHECK(got > 0);
    CHECK(strcmp(out,
        "libvirt: Test Driver error : Domain snapshot not found: no domain snapshot with matching name 'nope'\n"
        "libvirt: Domain Snapshot error : Invalid domain snapshot: virDomainSnapshotGetName\n"
        "libvirt: Domain Snapshot error : Invalid domain snapshot: virDomainSnapshotGetName\n") == 0);
    if (failures) fprintf(stderr, "captured stderr:\n%s", out);
    virSetErrorFunc(NULL, quiet_handler);

    CHECK(virDomainSnapshotDelete(s1, 0) == 0);
    virDomainSnapshotFree(s1);
    virDomainFree(dom);
    CHECK(virConnectClose(conn) == 0);
    return finish("errors");
}
