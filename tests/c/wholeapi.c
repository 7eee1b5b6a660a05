/* A program that references libvirt 9.0's whole public API (libvirt.so.0,
 * libvirt-qemu.so.0, libvirt-lxc.so.0: allrefs.h, generated from Debian
 * libvirt-dev's API description by tests/abi/gen-allrefs.py), built with
 * -lvirt -lvirt-qemu -lvirt-lxc -Wl,-z,now, so the loader binds every
 * symbol with its version node at start-up.
 *
 * It then calls out-of-scope functions the test driver lacks in libvirt
 * 9.0 too, and prints what each gives (return value, virError fields, the
 * error handler's calls). Run on libvirt and on libvirt-compat, the outputs
 * must be identical: VIR_ERR_NO_SUPPORT "this function is not supported by
 * the connection driver: FUNCTION" in libvirt's error domain. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <libvirt/libvirt.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/libvirt-lxc.h>
#include <libvirt/virterror.h>
#include "allrefs.h"

static int handler_calls;
static void handler(void *data, virErrorPtr e) {
    (void)data;
    handler_calls++;
    printf("  handler: code=%d domain=%d\n", e->code, e->domain);
}

static void report(const char *what, long long ret) {
    virErrorPtr e = virGetLastError();
    printf("%s = %lld\n", what, ret);
    if (e)
        printf("  error code=%d domain=%d level=%d message=[%s] str1=[%s] str2=[%s] int1=%d int2=%d\n", e->code,
               e->domain, e->level, e->message ? e->message : "", e->str1 ? e->str1 : "(null)",
               e->str2 ? e->str2 : "(null)", e->int1, e->int2);
    else
        printf("  no error\n");
    fflush(stdout);
}

#define I(call) report(#call, (long long)(call))
#define P(call) report(#call, (call) ? 1LL : 0LL)

int main(void) {
    size_t bound = 0;
    for (size_t i = 0; i < ALL_REFS_COUNT; i++)
        bound += all_refs[i] != NULL;
    printf("%zu of %d public symbols bound\n", bound, ALL_REFS_COUNT);

    virConnectPtr conn = virConnectOpen("test:///default");
    if (!conn) { printf("open failed\n"); return 1; }
    virDomainPtr dom = virDomainLookupByName(conn, "test");
    if (!dom) { printf("lookup failed\n"); return 1; }
    char *result = NULL;

    /* libvirt's default handler (stderr) first, then a global handler. */
    P(virNWFilterLookupByName(conn, "x"));
    virSetErrorFunc(NULL, handler);
    P(virNWFilterLookupByName(conn, "x"));
    P(virSecretLookupByUsage(conn, VIR_SECRET_USAGE_TYPE_VOLUME, "x"));
    P(virConnectGetDomainCapabilities(conn, NULL, NULL, NULL, NULL, 0));
    unsigned long bw = 0;
    I(virDomainMigrateGetMaxSpeed(dom, &bw, 0));
    I(virDomainQemuMonitorCommand(dom, "info status", &result, 0));
    P(virDomainQemuAgentCommand(dom, "{\"execute\":\"guest-ping\"}", 5, 0));
    int *fdlist = NULL;
    I(virDomainLxcOpenNamespace(dom, &fdlist, 0));
    /* a NULL connection is libvirt's invalid-connection error first */
    P(virNWFilterLookupByName(NULL, "x"));
    printf("handler calls: %d\n", handler_calls);
    virDomainFree(dom);
    virConnectClose(conn);
    return 0;
}
