/* virConnectAuthPtrDefault, libvirt's default terminal prompt.
 *
 * Built against Debian's libvirt-dev (-lvirt) and run by .ci/suites/capi.sh
 * once on the real libvirt 9.0 and once with
 * LD_LIBRARY_PATH=target/release/libvirt-compat; the suite compares the two
 * transcripts this program prints (they must be identical).
 *
 * `auth pty`: the callback runs in a child on a new pseudo-terminal (its
 * controlling terminal, so getpass(3) reads the passphrase from it with echo
 * off); the parent answers each prompt and records everything the terminal
 * shows. `auth pipe`: stdin is a pipe, so echoed credentials are read from
 * it, and EOF gives the default result. `auth open URI USER PASS`: a
 * real open, virConnectOpenAuth(URI, virConnectAuthPtrDefault, 0), in a
 * child on a pty whose prompts the parent answers with USER and PASS (URI: a
 * test:///node.xml file with <auth>, so the test driver asks). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

static void print_cred_types(void) {
    virConnectAuthPtr a = virConnectAuthPtrDefault;
    printf("ncredtype=%u types=", a->ncredtype);
    for (unsigned i = 0; i < a->ncredtype; i++) printf("%s%d", i ? "," : "", a->credtype[i]);
    printf(" cb=%s cbdata=%s\n", a->cb ? "set" : "NULL", a->cbdata ? "set" : "NULL");
}

/* Asks for: user name, passphrase, realm (default "dflt-realm"), an echo
 * prompt without default, a no-echo prompt with default. Prints results. */
static int ask(void) {
    virConnectCredential c[5];
    memset(c, 0, sizeof(c));
    c[0].type = VIR_CRED_AUTHNAME; c[0].prompt = "Username";
    c[1].type = VIR_CRED_PASSPHRASE; c[1].prompt = "Password";
    c[2].type = VIR_CRED_REALM; c[2].prompt = "Realm"; c[2].defresult = "dflt-realm";
    c[3].type = VIR_CRED_ECHOPROMPT; c[3].prompt = "Say";
    c[4].type = VIR_CRED_NOECHOPROMPT; c[4].prompt = "Secret"; c[4].defresult = "dflt-secret";
    int rc = virConnectAuthPtrDefault->cb(c, 5, virConnectAuthPtrDefault->cbdata);
    printf("\nrc=%d\n", rc);
    for (int i = 0; i < 5; i++) {
        printf("result[%d]=%s len=%u\n", i, c[i].result ? c[i].result : "(null)", c[i].resultlen);
        free(c[i].result);
    }
    fflush(stdout);
    return rc;
}

static void external(void) {
    virConnectCredential c;
    memset(&c, 0, sizeof(c));
    c.type = VIR_CRED_EXTERNAL; c.prompt = "ext"; c.challenge = "PolicyKit";
    int rc = virConnectAuthPtrDefault->cb(&c, 1, NULL);
    printf("external PolicyKit rc=%d result=%s\n", rc, c.result ? c.result : "(null)");
    c.challenge = "Kerberos";
    rc = virConnectAuthPtrDefault->cb(&c, 1, NULL);
    printf("external other rc=%d\n", rc);
    c.type = 1000;
    rc = virConnectAuthPtrDefault->cb(&c, 1, NULL);
    printf("unknown type rc=%d\n", rc);
    fflush(stdout);
}

/* Reads from the pty master into `log` until `want` appears (or EOF). */
static int expect(int fd, char *log, size_t cap, size_t *len, const char *want) {
    for (;;) {
        log[*len] = '\0';
        if (want && strstr(log, want)) return 0;
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, 60000) <= 0) return -1;
        ssize_t n = read(fd, log + *len, cap - 1 - *len);
        if (n <= 0) return want ? -1 : 0; /* EIO: the child closed the pty */
        *len += (size_t)n;
    }
}

static void ask_child(void) { ask(); }

static const char *open_uri;

static void open_with_default_auth(void) {
    virConnectPtr c = virConnectOpenAuth(open_uri, virConnectAuthPtrDefault, 0);
    if (c) {
        printf("\nopened: %d domains\nlen=\n", virConnectNumOfDomains(c));
        virConnectClose(c);
    } else {
        virErrorPtr e = virGetLastError();
        printf("\nopen failed: code=%d domain=%d %s\nlen=\n", e ? e->code : 0, e ? e->domain : 0,
               e && e->message ? e->message : "(none)");
    }
    fflush(stdout);
}

/* getpass(3) switches echo off with TCSAFLUSH, discarding input typed
 * before: wait (bounded) until the terminal's ECHO flag is off. */
static void wait_noecho(int master) {
    for (int i = 0; i < 60000; i++) {
        struct termios t;
        if (tcgetattr(master, &t) == 0 && !(t.c_lflag & ECHO)) return;
        struct timespec ts = { 0, 1000000L };
        nanosleep(&ts, NULL);
    }
}

static int pty_mode(const char *const steps[][3], size_t nsteps, void (*child)(void)) {
    int master;
    pid_t pid = forkpty(&master, NULL, NULL, NULL);
    if (pid < 0) { perror("forkpty"); return 1; }
    if (pid == 0) {
        child();
        _exit(0);
    }
    static char log[65536];
    size_t len = 0;
    int ok = 1;
    for (size_t i = 0; i < nsteps; i++) {
        if (expect(master, log, sizeof(log), &len, steps[i][0]) < 0) { ok = 0; break; }
        if (steps[i][2][0] == 'n') wait_noecho(master);
        if (write(master, steps[i][1], strlen(steps[i][1])) < 0) { ok = 0; break; }
        expect(master, log, sizeof(log), &len, i + 1 < nsteps ? steps[i + 1][0] : "len=");
    }
    expect(master, log, sizeof(log), &len, NULL);
    int status = 0;
    waitpid(pid, &status, 0);
    /* normalize the terminal's CRLF */
    for (char *s = log, *d = log;; s++) {
        if (*s != '\r') *d++ = *s;
        if (!*s) break;
    }
    printf("== terminal transcript\n%s== end\n", log);
    printf("passphrase echoed: %s\n", strstr(log, "s3cret\n") && strstr(log, "s3cret\n") < strstr(log, "rc=") ? "yes" : "no");
    printf("child exit: %d, all prompts seen: %s\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1, ok ? "yes" : "no");
    return ok ? 0 : 1;
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    print_cred_types();
    if (argc > 1 && strcmp(argv[1], "pipe") == 0) {
        /* stdin is a pipe holding "bob\n" then EOF: the passphrase comes
         * from the terminal if there is one, so only echoed types here */
        virConnectCredential c[3];
        memset(c, 0, sizeof(c));
        c[0].type = VIR_CRED_AUTHNAME; c[0].prompt = "Username";
        c[1].type = VIR_CRED_REALM; c[1].prompt = "Realm"; c[1].defresult = "dflt-realm";
        c[2].type = VIR_CRED_ECHOPROMPT; c[2].prompt = "Say";
        int rc = virConnectAuthPtrDefault->cb(c, 3, NULL);
        printf("\nrc=%d\n", rc);
        for (int i = 0; i < 3; i++) {
            printf("result[%d]=%s len=%u\n", i, c[i].result ? c[i].result : "(null)", c[i].resultlen);
            free(c[i].result);
        }
        external();
        return rc == 0 ? 0 : 1;
    }
    fflush(stdout);
    if (argc > 4 && strcmp(argv[1], "open") == 0) {
        /* the test driver's prompts for a node file with <auth> */
        static char user[256], pass[256];
        snprintf(user, sizeof(user), "%s\n", argv[3]);
        snprintf(pass, sizeof(pass), "%s\n", argv[4]);
        const char *const steps[][3] = {
            { "Enter username for localhost: ", user, "echo" },
            { "password for localhost: ", pass, "noecho" },
        };
        open_uri = argv[2];
        return pty_mode(steps, 2, open_with_default_auth);
    }
    static const char *const steps[][3] = {
        { "Username: ", "alice\n", "echo" },
        { "Password: ", "s3cret\n", "noecho" },
        { "Realm: ", "\n", "echo" },
        { "Say: ", "hello world\n", "echo" },
        { "Secret: ", "\n", "noecho" },
    };
    return pty_mode(steps, 5, ask_child);
}
