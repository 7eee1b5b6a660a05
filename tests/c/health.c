/* virsnap 0.2 snapshot health calls (issue 21): virDomainSnapshotPrune and
 * virDomainSnapshotVerify over test:///default — the malloc'd NULL-terminated
 * arrays (freed with free(), checked by valgrind/ASan), the dry run, the
 * errors and that a failed call changes nothing. */
#include "common.h"

static int count_names(char **v) {
    int n = 0;
    while (v && v[n]) n++;
    return n;
}

static void free_names(char **v) {
    for (int i = 0; v && v[i]; i++) free(v[i]);
    free(v);
}

int main(void) {
    virSetErrorFunc(NULL, quiet_handler);
    virConnectPtr conn = virConnectOpen("test:///default");
    CHECK(conn != NULL);
    virDomainPtr dom = virDomainLookupByName(conn, "test");
    CHECK(dom != NULL);
    const char *names[] = { "a", "b", "c", "d" };
    for (int i = 0; i < 4; i++) {
        char xml[128];
        snprintf(xml, sizeof xml, "<domainsnapshot><name>%s</name></domainsnapshot>", names[i]);
        virDomainSnapshotPtr s = virDomainSnapshotCreateXML(dom, xml, 0);
        CHECK(s != NULL);
        virDomainSnapshotFree(s);
    }
    /* current b: a <- b <- c <- d */
    virDomainSnapshotPtr b = virDomainSnapshotLookupByName(dom, "b", 0);
    CHECK(b && virDomainRevertToSnapshot(b, 0) == 0);
    virDomainSnapshotFree(b);

    /* dry run: a and c would go (d is the newest kept; b is current) */
    char **gone = (char **)0x1;
    CHECK(virDomainSnapshotPrune(dom, 1, -1, &gone, VIR_DOMAIN_SNAPSHOT_PRUNE_DRY_RUN) == 2);
    CHECK(count_names(gone) == 2 && strcmp(gone[0], "a") == 0 && strcmp(gone[1], "c") == 0);
    free_names(gone);
    CHECK(virDomainSnapshotNum(dom, 0) == 4);

    /* errors: no rule, unknown flag; *names is NULL; nothing changed */
    gone = (char **)0x1;
    CHECK(virDomainSnapshotPrune(dom, -1, -1, &gone, 0) == -1);
    CHECK_ERR(VIR_ERR_INVALID_ARG, -1, "no retention rule");
    CHECK(gone == NULL);
    CHECK(virDomainSnapshotPrune(dom, 1, -1, NULL, 0x40) == -1);
    CHECK_ERR(VIR_ERR_INVALID_ARG, -1, "unsupported flags");
    CHECK(virDomainSnapshotPrune(NULL, 1, -1, NULL, 0) == -1);
    CHECK_ERR(VIR_ERR_INVALID_DOMAIN, -1, NULL);
    CHECK(virDomainSnapshotNum(dom, 0) == 4);

    /* the real prune, names not asked for; an hour's age keeps them all */
    CHECK(virDomainSnapshotPrune(dom, -1, 3600, NULL, 0) == 0);
    CHECK(virDomainSnapshotPrune(dom, 1, -1, NULL, 0) == 2);
    CHECK_NO_ERR();
    CHECK(virDomainSnapshotNum(dom, 0) == 2);

    /* verify: consistent, an empty NULL-terminated array */
    char **problems = (char **)0x1;
    CHECK(virDomainSnapshotVerify(dom, &problems, 0) == 0);
    CHECK(problems != NULL && problems[0] == NULL);
    free_names(problems);
    CHECK(virDomainSnapshotVerify(dom, NULL, VIR_DOMAIN_SNAPSHOT_VERIFY_REPAIR) == 0);
    CHECK(virDomainSnapshotVerify(dom, NULL, 2) == -1);
    CHECK_ERR(VIR_ERR_INVALID_ARG, -1, "unsupported flags");

    /* read-only: dry run and verify only */
    virConnectPtr ro = virConnectOpenReadOnly("test:///default");
    virDomainPtr rdom = ro ? virDomainLookupByName(ro, "test") : NULL;
    CHECK(rdom != NULL);
    CHECK(virDomainSnapshotPrune(rdom, 0, -1, NULL, VIR_DOMAIN_SNAPSHOT_PRUNE_DRY_RUN) == 1);
    CHECK(virDomainSnapshotPrune(rdom, 0, -1, NULL, 0) == -1);
    CHECK_ERR(VIR_ERR_OPERATION_DENIED, -1, NULL);
    CHECK(virDomainSnapshotVerify(rdom, NULL, VIR_DOMAIN_SNAPSHOT_VERIFY_REPAIR) == -1);
    CHECK_ERR(VIR_ERR_OPERATION_DENIED, -1, NULL);
    virDomainFree(rdom);
    virConnectClose(ro);

    virDomainFree(dom);
    virConnectClose(conn);
    return finish("health");
}
