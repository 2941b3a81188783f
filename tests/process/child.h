// child: the node processes a process test starts, watches and stops, and a thread
// that SIGKILLs one at a chosen moment. Only the test driver uses it; it never
// touches RocksDB, so forking from it is safe.
#ifndef TESTS_PROCESS_CHILD_H
#define TESTS_PROCESS_CHILD_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

typedef struct {
    pid_t pid;   // -1 when there is none
    bool exited; // it has exited but is not reaped yet, so its pid stays ours
} child_t;

// Starts path with argv, stdin from /dev/null, stdout and stderr appended to
// log_path. 0, or an errno value.
int child_spawn(child_t *child, const char *path, char *const argv[], const char *log_path);
// True once the child has exited. Does not reap it.
bool child_has_exited(child_t *child);
// Waits up to wait_ms for the child to exit, then reaps it: 0 with *wait_status set
// and child->pid = -1, or -1 when it is still running.
int child_reap(child_t *child, long wait_ms, int *wait_status);

// A thread that sends SIGKILL to pid delay_ms after killer_start, unless cancelled.
typedef struct {
    pthread_t thread;
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    pid_t pid;
    long delay_ms;
    bool cancel; // under mutex
    bool fired;  // under mutex
} killer_t;

// 0, or an errno value. The target must not be reaped before killer_join.
int killer_start(killer_t *killer, pid_t pid, long delay_ms);
bool killer_fired(killer_t *killer);
// Cancels the kill if it has not happened yet, joins the thread; true if it fired.
bool killer_join(killer_t *killer);

long elapsed_ms(const struct timespec *since);
void sleep_ms(long ms);

#endif
