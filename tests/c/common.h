/* Shared helpers of virsnap's C tests. Every test prints "ok"/"FAIL" lines
 * and returns non-zero if any check failed. */
#ifndef VIRSNAP_TEST_COMMON_H
#define VIRSNAP_TEST_COMMON_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

static int failures;
static int checks;

#define CHECK(cond) do { checks++; if (!(cond)) { failures++; \
    fprintf(stderr, "FAIL %s:%d: %s (last error: %d/%d %s)\n", __FILE__, __LINE__, #cond, \
            virGetLastErrorCode(), virGetLastErrorDomain(), virGetLastErrorMessage()); } } while (0)

/* The last call failed with `code` in `domain` (-1: any) and a message containing `msg`. */
#define CHECK_ERR(ecode, edom, emsg) do { virErrorPtr e_ = virGetLastError(); const char *m_ = (emsg); checks++; \
    if (!e_ || e_->code != (ecode) || ((edom) >= 0 && e_->domain != (edom)) || \
        (m_ && (!e_->message || !strstr(e_->message, m_)))) { failures++; \
        fprintf(stderr, "FAIL %s:%d: expected error %d/%d '%s', got %d/%d '%s'\n", __FILE__, __LINE__, \
                (int)(ecode), (int)(edom), m_ ? m_ : "", e_ ? e_->code : 0, e_ ? e_->domain : 0, \
                e_ && e_->message ? e_->message : "(none)"); } } while (0)

#define CHECK_NO_ERR() do { checks++; if (virGetLastError() != NULL) { failures++; \
    fprintf(stderr, "FAIL %s:%d: unexpected error %s\n", __FILE__, __LINE__, virGetLastErrorMessage()); } } while (0)

static void quiet_handler(void *data, virErrorPtr err) { (void)data; (void)err; }

static int finish(const char *name) {
    printf("%s: %d checks, %d failed\n", name, checks, failures);
    return failures ? 1 : 0;
}

/* Opens `uri` and its domain $HOSTILE_DOMAIN (default "test"), defined from
 * $HOSTILE_DOMAIN_XML first when that is set; NULL (a check failed) when the
 * connection or the domain cannot be had. */
static inline virDomainPtr open_domain(const char *uri, virConnectPtr *conn) {
    const char *name = getenv("HOSTILE_DOMAIN") ? getenv("HOSTILE_DOMAIN") : "test";
    *conn = virConnectOpen(uri);
    CHECK(*conn != NULL);
    if (!*conn) return NULL;
    if (getenv("HOSTILE_DOMAIN_XML")) {
        virDomainPtr d = virDomainDefineXML(*conn, getenv("HOSTILE_DOMAIN_XML"));
        CHECK(d != NULL);
        if (d) virDomainFree(d);
    }
    virDomainPtr dom = virDomainLookupByName(*conn, name);
    CHECK(dom != NULL);
    return dom;
}

#define SNAP_XML(name) "<domainsnapshot><name>" name "</name><description>d</description></domainsnapshot>"
#endif
