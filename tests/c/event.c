/* The default event loop (virEventRegisterDefaultImpl / virEventRunDefaultImpl
 * and virEventAdd/Update/Remove{Handle,Timeout}) and virEventRegisterImpl.
 *
 * Built against Debian's libvirt-dev (-lvirt) and run twice by
 * .ci/suites/capi.sh: on the real libvirt 9.0 and with
 * LD_LIBRARY_PATH=target/release/libvirt-compat, so every expectation here
 * is checked against libvirt itself as well.
 *
 *   event            default loop: handles, timeouts, removal from inside a
 *                    callback, free callbacks after removal, another thread's
 *                    update waking a blocked poll, hang-up
 *   event app        an application's own implementation, registered first,
 *                    receives the virEvent* calls; a later
 *                    virEventRegisterDefaultImpl does not replace it
 * Nothing here depends on machine speed: waits are lower bounds, and a
 * watchdog alarm (120 s) only catches a loop that never wakes. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include "common.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* ---- default loop ---- */

struct hstate { int calls; int last_watch; int last_fd; int last_events; int remove_self; int other; int freed; };

static void handle_cb(int watch, int fd, int events, void *opaque) {
    struct hstate *s = opaque;
    char buf[16];
    s->calls++;
    s->last_watch = watch;
    s->last_fd = fd;
    s->last_events = events;
    if (events & VIR_EVENT_HANDLE_READABLE) {
        ssize_t n = read(fd, buf, sizeof(buf));
        (void)n;
    }
    if (s->remove_self) {
        CHECK(virEventRemoveHandle(watch) == 0);
        /* the free callback must not run inside the remove call */
        CHECK(s->freed == 0);
        /* a second remove of the same watch fails */
        CHECK(virEventRemoveHandle(watch) == -1);
    }
    if (s->other > 0) {
        CHECK(virEventRemoveHandle(s->other) == 0);
        s->other = 0;
    }
}

static void hstate_free(void *opaque) { ((struct hstate *)opaque)->freed++; }

struct tstate { int calls; double first_ms; int remove_self; int freed; int timer; };

static void timer_cb(int timer, void *opaque) {
    struct tstate *s = opaque;
    if (s->calls++ == 0) s->first_ms = now_ms();
    s->timer = timer;
    if (s->remove_self) {
        CHECK(virEventRemoveTimeout(timer) == 0);
        CHECK(s->freed == 0);
    }
}

static void tstate_free(void *opaque) { ((struct tstate *)opaque)->freed++; }

static void tick_cb(int timer, void *opaque) { (void)timer; ++*(int *)opaque; }

/* Runs the loop until *flag becomes non-zero (at most `max` iterations). */
static int run_until(int *flag, int max) {
    for (int i = 0; i < max && !*flag; i++)
        if (virEventRunDefaultImpl() < 0) return -1;
    return *flag ? 0 : -1;
}

struct waker { int timer; int delay_ms; };

static void *waker_thread(void *opaque) {
    struct waker *w = opaque;
    struct timespec ts = { w->delay_ms / 1000, (w->delay_ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
    virEventUpdateTimeout(w->timer, 0);
    return NULL;
}

static void on_alarm(int sig) {
    (void)sig;
    static const char msg[] = "FAIL watchdog: the event loop never woke up\n";
    ssize_t n = write(2, msg, sizeof(msg) - 1);
    (void)n;
    _exit(3);
}

static int default_loop(void) {
    int p[2], q[2];
    CHECK(pipe(p) == 0 && pipe(q) == 0);

    /* nothing registered yet: the dispatchers fail without an error */
    CHECK(virEventAddHandle(p[0], VIR_EVENT_HANDLE_READABLE, handle_cb, NULL, NULL) == -1);
    CHECK(virEventAddTimeout(0, tick_cb, NULL, NULL) == -1);
    CHECK(virEventRemoveHandle(1) == -1);
    CHECK(virEventRemoveTimeout(1) == -1);
    virEventUpdateHandle(1, 0);
    virEventUpdateTimeout(1, 0);

    CHECK(virEventRegisterDefaultImpl() == 0);
    CHECK_NO_ERR();
    CHECK(virEventRegisterDefaultImpl() == 0); /* again: harmless */

    /* a readable pipe */
    struct hstate h1 = {0};
    int w1 = virEventAddHandle(p[0], VIR_EVENT_HANDLE_READABLE, handle_cb, &h1, hstate_free);
    CHECK(w1 > 0);
    CHECK(write(p[1], "x", 1) == 1);
    CHECK(run_until(&h1.calls, 100) == 0);
    CHECK(h1.calls == 1 && h1.last_watch == w1 && h1.last_fd == p[0]);
    CHECK(h1.last_events == VIR_EVENT_HANDLE_READABLE);

    /* events 0: still registered but not watched */
    virEventUpdateHandle(w1, 0);
    CHECK(write(p[1], "y", 1) == 1);
    int ticks = 0;
    int tk = virEventAddTimeout(10, tick_cb, &ticks, NULL);
    CHECK(tk > 0);
    while (ticks < 3) CHECK(virEventRunDefaultImpl() == 0);
    CHECK(h1.calls == 1);
    virEventUpdateHandle(w1, VIR_EVENT_HANDLE_READABLE);
    for (int i = 0; i < 100 && h1.calls == 1; i++) CHECK(virEventRunDefaultImpl() == 0);
    CHECK(h1.calls == 2);

    /* a 0 ms timer fires on every iteration; -1 is disabled */
    struct tstate t0 = {0}, toff = {0};
    int tz = virEventAddTimeout(0, timer_cb, &t0, tstate_free);
    int td = virEventAddTimeout(-1, timer_cb, &toff, tstate_free);
    CHECK(tz > 0 && td > 0 && tz != td && tk != tz);
    for (int i = 0; i < 3; i++) CHECK(virEventRunDefaultImpl() == 0);
    CHECK(t0.calls >= 3);
    CHECK(t0.timer == tz);
    CHECK(toff.calls == 0);
    CHECK(virEventRemoveTimeout(tz) == 0);
    int before = t0.calls;
    ticks = 0;
    while (ticks < 2) CHECK(virEventRunDefaultImpl() == 0);
    CHECK(t0.calls == before);
    CHECK(t0.freed == 1); /* the free callback ran from the loop */
    CHECK(virEventRemoveTimeout(tz) == -1);

    /* N ms: not before N ms have passed */
    struct tstate t50 = {0};
    double start = now_ms();
    int t5 = virEventAddTimeout(50, timer_cb, &t50, tstate_free);
    CHECK(run_until(&t50.calls, 100000) == 0);
    CHECK(t50.first_ms - start >= 49.0);
    CHECK(virEventRemoveTimeout(t5) == 0);

    /* update of a disabled timer enables it */
    virEventUpdateTimeout(td, 5);
    CHECK(run_until(&toff.calls, 100000) == 0);
    virEventUpdateTimeout(td, -1);
    before = toff.calls;
    ticks = 0;
    while (ticks < 3) CHECK(virEventRunDefaultImpl() == 0);
    CHECK(toff.calls == before);

    /* a timer removing itself from its callback: called once, freed later */
    struct tstate tself = { .remove_self = 1 };
    CHECK(virEventAddTimeout(0, timer_cb, &tself, tstate_free) > 0);
    CHECK(run_until(&tself.calls, 100) == 0);
    ticks = 0;
    while (ticks < 3) CHECK(virEventRunDefaultImpl() == 0);
    CHECK(tself.calls == 1);
    CHECK(tself.freed == 1);

    /* a handle removing itself from its callback */
    struct hstate hself = { .remove_self = 1 };
    int ws = virEventAddHandle(q[0], VIR_EVENT_HANDLE_READABLE, handle_cb, &hself, hstate_free);
    CHECK(ws > 0 && ws != w1);
    CHECK(write(q[1], "z", 1) == 1);
    CHECK(run_until(&hself.calls, 100) == 0);
    CHECK(write(q[1], "z", 1) == 1);
    ticks = 0;
    while (ticks < 3) CHECK(virEventRunDefaultImpl() == 0);
    CHECK(hself.calls == 1);
    CHECK(hself.freed == 1);
    virEventUpdateHandle(ws, VIR_EVENT_HANDLE_READABLE); /* removed: ignored */
    ticks = 0;
    while (ticks < 2) CHECK(virEventRunDefaultImpl() == 0);
    CHECK(hself.calls == 1);

    /* removing the handle through the free callback path: h1 */
    CHECK(virEventRemoveHandle(w1) == 0);
    ticks = 0;
    while (ticks < 2) CHECK(virEventRunDefaultImpl() == 0);
    CHECK(h1.freed == 1);

    /* another thread's update wakes a poll that would block forever:
     * only a disabled timer is registered (tk is removed first) */
    CHECK(virEventRemoveTimeout(tk) == 0);
    CHECK(virEventRunDefaultImpl() == 0); /* runs the pending free callbacks */
    struct tstate twake = {0};
    int tw = virEventAddTimeout(-1, timer_cb, &twake, tstate_free);
    struct waker wk = { tw, 200 };
    pthread_t th;
    start = now_ms();
    CHECK(pthread_create(&th, NULL, waker_thread, &wk) == 0);
    CHECK(run_until(&twake.calls, 1000) == 0);
    CHECK(pthread_join(th, NULL) == 0);
    CHECK(twake.calls >= 1);
    CHECK(now_ms() - start >= 199.0);
    CHECK(virEventRemoveTimeout(tw) == 0);

    /* hang-up: the writer closes */
    struct hstate hup = {0};
    int wh = virEventAddHandle(q[0], VIR_EVENT_HANDLE_READABLE, handle_cb, &hup, hstate_free);
    CHECK(wh > 0);
    close(q[1]);
    CHECK(run_until(&hup.calls, 100) == 0);
    CHECK(hup.last_events & VIR_EVENT_HANDLE_HANGUP);
    CHECK(virEventRemoveHandle(wh) == 0);

    /* removing another ready handle from a callback: it does not fire */
    int r[2];
    CHECK(pipe(r) == 0);
    struct hstate ha = {0}, hb = {0};
    int wa = virEventAddHandle(p[0], VIR_EVENT_HANDLE_READABLE, handle_cb, &ha, hstate_free);
    int wb = virEventAddHandle(r[0], VIR_EVENT_HANDLE_READABLE, handle_cb, &hb, hstate_free);
    ha.other = wb;
    hb.other = wa;
    CHECK(write(p[1], "a", 1) == 1 && write(r[1], "b", 1) == 1);
    int any = 0;
    for (int i = 0; i < 100 && !any; i++) {
        CHECK(virEventRunDefaultImpl() == 0);
        any = ha.calls + hb.calls;
    }
    CHECK(ha.calls + hb.calls == 1);
    int survivor = ha.calls ? wa : wb;
    int dead_freed = 0;
    for (int i = 0; i < 100 && !dead_freed; i++) {
        CHECK(virEventRunDefaultImpl() == 0);
        dead_freed = ha.calls ? hb.freed : ha.freed;
    }
    CHECK(dead_freed == 1);
    CHECK(virEventRemoveHandle(survivor) == 0);
    return 0;
}

/* ---- the application's own implementation ---- */

static int app_adds, app_updates, app_removes, app_tadds, app_tupdates, app_tremoves;

static int app_add_handle(int fd, int ev, virEventHandleCallback cb, void *o, virFreeCallback ff) {
    (void)fd; (void)ev; (void)cb; (void)o; (void)ff;
    app_adds++;
    return 41;
}
static void app_update_handle(int w, int ev) { (void)w; (void)ev; app_updates++; }
static int app_remove_handle(int w) { (void)w; app_removes++; return 0; }
static int app_add_timeout(int t, virEventTimeoutCallback cb, void *o, virFreeCallback ff) {
    (void)t; (void)cb; (void)o; (void)ff;
    app_tadds++;
    return 42;
}
static void app_update_timeout(int t, int ms) { (void)t; (void)ms; app_tupdates++; }
static int app_remove_timeout(int t) { (void)t; app_tremoves++; return 0; }

static int app_loop(void) {
    virEventRegisterImpl(app_add_handle, app_update_handle, app_remove_handle,
                         app_add_timeout, app_update_timeout, app_remove_timeout);
    CHECK(virEventAddHandle(0, VIR_EVENT_HANDLE_READABLE, handle_cb, NULL, NULL) == 41);
    virEventUpdateHandle(41, 0);
    CHECK(virEventRemoveHandle(41) == 0);
    CHECK(virEventAddTimeout(5, tick_cb, NULL, NULL) == 42);
    virEventUpdateTimeout(42, -1);
    CHECK(virEventRemoveTimeout(42) == 0);
    CHECK(app_adds == 1 && app_updates == 1 && app_removes == 1);
    CHECK(app_tadds == 1 && app_tupdates == 1 && app_tremoves == 1);
    /* a later default registration does not replace it */
    CHECK(virEventRegisterDefaultImpl() == 0);
    CHECK(virEventAddTimeout(0, tick_cb, NULL, NULL) == 42);
    CHECK(app_tadds == 2);
    return 0;
}

int main(int argc, char **argv) {
    (void)quiet_handler;
    signal(SIGALRM, on_alarm);
    alarm(120);
    signal(SIGPIPE, SIG_IGN);
    if (argc > 1 && strcmp(argv[1], "app") == 0) {
        app_loop();
        return finish("event app");
    }
    default_loop();
    return finish("event");
}
