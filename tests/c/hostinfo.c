/* What a program asks a connection before snapshot code: liveness, host
 * name, node info, vCPU limits, versions, capabilities, sysinfo, close
 * callbacks, keepalive; and a domain's OS type / max memory / persistence.
 *
 * Built against Debian's libvirt-dev (-lvirt); .ci/suites/capi.sh runs it on
 * the real libvirt 9.0 and with LD_LIBRARY_PATH=target/release/libvirt-compat
 * and diffs the two outputs (test:///default, and qemu:///embed?root=DIR
 * when libvirt's qemu driver can run).
 * Usage: hostinfo URI DOMAIN [full-caps] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

static void quiet(void *d, virErrorPtr e) { (void)d; (void)e; }

static void err(const char *what) {
    virErrorPtr e = virGetLastError();
    printf("%s: error %d/%d %s\n", what, e ? e->code : 0, e ? e->domain : 0, e && e->message ? e->message : "(none)");
}

static void close_cb(virConnectPtr c, int reason, void *opaque) { (void)c; (void)reason; (void)opaque; }
static void free_cb(void *opaque) { printf("freecb called %p\n", opaque); }

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: hostinfo URI DOMAIN [full-caps]\n"); return 2; }
    virSetErrorFunc(NULL, quiet);
    if (virEventRegisterDefaultImpl() < 0) { err("virEventRegisterDefaultImpl"); return 1; }
    virConnectPtr c = virConnectOpenAuth(argv[1], virConnectAuthPtrDefault, 0);
    if (!c) { err("open"); return 1; }
    printf("alive=%d encrypted=%d secure=%d\n", virConnectIsAlive(c), virConnectIsEncrypted(c), virConnectIsSecure(c));
    char *h = virConnectGetHostname(c);
    if (h) printf("hostname=%s\n", h); else err("hostname");
    free(h);
    virNodeInfo ni;
    memset(&ni, 0, sizeof(ni));
    if (virNodeGetInfo(c, &ni) == 0)
        printf("node model=%s memory=%lu cpus=%u mhz=%u nodes=%u sockets=%u cores=%u threads=%u\n",
               ni.model, ni.memory, ni.cpus, ni.mhz, ni.nodes, ni.sockets, ni.cores, ni.threads);
    else err("nodeinfo");
    if (virNodeGetInfo(c, NULL) < 0) err("nodeinfo NULL");
    const char *types[] = { NULL, "qemu", "kvm", "test", "bogus" };
    for (int i = 0; i < 5; i++) {
        int n = virConnectGetMaxVcpus(c, types[i]);
        if (n >= 0) printf("maxvcpus(%s)=%d\n", types[i] ? types[i] : "NULL", n); else err("maxvcpus");
    }
    unsigned long v = 0;
    if (virConnectGetLibVersion(c, &v) == 0) printf("libversion=%lu\n", v); else err("libversion");
    if (virConnectGetVersion(c, &v) == 0) printf("hv version=%s\n", v > 0 ? "set" : "0"); else err("version");
    if (virGetVersion(&v, NULL, NULL) == 0) printf("virGetVersion=%lu\n", v); else err("virGetVersion");
    char *s = virConnectGetSysinfo(c, 0);
    if (s) printf("sysinfo:\n%s", s); else err("sysinfo");
    free(s);
    s = virConnectGetSysinfo(c, 1);
    if (s) printf("sysinfo(1) ok\n"); else err("sysinfo(1)");
    free(s);
    s = virConnectGetCapabilities(c);
    if (s && argc > 3) printf("capabilities:\n%s", s);
    else if (s) printf("capabilities: %.14s...\n", s);
    else err("capabilities");
    free(s);
    printf("register close cb=%d\n", virConnectRegisterCloseCallback(c, close_cb, (void *)0x1, free_cb));
    printf("register close cb NULL=%d\n", virConnectRegisterCloseCallback(c, NULL, NULL, NULL));
    err("  last");
    printf("unregister close cb=%d\n", virConnectUnregisterCloseCallback(c, close_cb));
    unsigned long long fm = virNodeGetFreeMemory(c);
    printf("free memory %s\n", fm == 3145728ULL ? "3145728" : fm > 0 ? "> 0" : "0");
    printf("keepalive=%d\n", virConnectSetKeepAlive(c, 5, 3));
    err("  last");
    printf("alive(NULL)=%d\n", virConnectIsAlive(NULL));
    err("  last");
    if (getenv("HOSTINFO_DEFINE_XML")) {
        virDomainPtr nd = virDomainDefineXML(c, getenv("HOSTINFO_DEFINE_XML"));
        if (!nd) { err("define"); return 1; }
        virDomainFree(nd);
    }
    virDomainPtr d = virDomainLookupByName(c, argv[2]);
    if (!d) { err("lookup"); return 1; }
    char *os = virDomainGetOSType(d);
    if (os) printf("ostype=%s\n", os); else err("ostype");
    free(os);
    printf("maxmemory=%lu\n", virDomainGetMaxMemory(d));
    printf("persistent=%d updated=%d\n", virDomainIsPersistent(d), virDomainIsUpdated(d));
    int as = -1;
    int asrc = virDomainGetAutostart(d, &as);
    printf("autostart rc=%d value=%d\n", asrc, as);
    printf("maxmemory(NULL)=%lu\n", virDomainGetMaxMemory(NULL));
    err("  last");
    virDomainFree(d);
    printf("close=%d\n", virConnectClose(c));
    return 0;
}
