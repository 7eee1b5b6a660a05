/* Watches URI for domain events through the default event loop and prints
 * one line per event, lifecycle and virsnap's snapshot events
 * (VIR_DOMAIN_EVENT_ID_VIRSNAP_SNAPSHOT), until COUNT events arrived:
 *
 *   domain_events_watch URI COUNT
 *
 * Prints "ready" once registered; .ci/suites/events.sh runs the actions in
 * another process then, so the events cross processes (the qemu root's
 * event log, watched through the loop's handle). */
#include <unistd.h>
#include "common.h"

static int seen;

static void life(virConnectPtr c, virDomainPtr d, int event, int detail, void *opaque) {
    (void)c; (void)opaque;
    printf("lifecycle %s %d %d\n", virDomainGetName(d), event, detail);
    fflush(stdout);
    seen++;
}

static void snap(virConnectPtr c, virDomainPtr d, const char *name, int event, const char *old, void *opaque) {
    (void)c; (void)opaque;
    printf("snapshot %s %d %s %s\n", virDomainGetName(d), event, name, old ? old : "-");
    fflush(stdout);
    seen++;
}

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    alarm(300);
    int want = atoi(argv[2]);
    (void)quiet_handler; /* libvirt's default: errors print to stderr */

    CHECK(virEventRegisterDefaultImpl() == 0);
    virConnectPtr conn = virConnectOpen(argv[1]);
    CHECK(conn != NULL);
    if (!conn) return finish("domain_events_watch");
    int a = virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                             VIR_DOMAIN_EVENT_CALLBACK(life), NULL, NULL);
    int b = virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_VIRSNAP_SNAPSHOT,
                                             VIR_DOMAIN_EVENT_CALLBACK(snap), NULL, NULL);
    CHECK(a >= 0 && b >= 0);
    printf("ready\n");
    fflush(stdout);
    while (seen < want)
        CHECK(virEventRunDefaultImpl() == 0);
    CHECK(virConnectDomainEventDeregisterAny(conn, a) == 0);
    CHECK(virConnectDomainEventDeregisterAny(conn, b) == 0);
    CHECK(virConnectClose(conn) == 0);
    return finish("domain_events_watch") ;
}
