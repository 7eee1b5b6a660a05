/* ThreadSanitizer canary for tests/tsan/run.sh: two threads increment a
 * plain int with no synchronisation. Built and linked exactly like the real
 * test; if TSan does not report this race, a clean run of the real test
 * proves nothing and run.sh fails. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>

static int shared;

static void *bump(void *arg) {
    (void)arg;
    for (int i = 0; i < 1000; i++) shared++;
    return NULL;
}

int main(void) {
    pthread_t a, b;
    pthread_create(&a, NULL, bump, NULL);
    pthread_create(&b, NULL, bump, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("canary: %d\n", shared);
    return 0;
}
