#include "child.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>

extern char **environ;

long
elapsed_ms(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)(now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

void
sleep_ms(long ms)
{
    struct timespec left = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&left, &left) != 0 && errno == EINTR)
        ;
}

int
child_spawn(child_t *child, const char *path, char *const argv[], const char *log_path)
{
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, path, &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    *child = (child_t){.pid = rc == 0 ? pid : -1};
    return rc;
}

bool
child_has_exited(child_t *child)
{
    assert(child->pid > 0);
    if (child->exited)
        return true;
    siginfo_t info;
    memset(&info, 0, sizeof info);
    // WNOWAIT: a killer thread may still aim at this pid, so it must not be recycled.
    if (waitid(P_PID, (id_t)child->pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0)
        return false;
    child->exited = info.si_pid == child->pid;
    return child->exited;
}

int
child_reap(child_t *child, long wait_ms, int *wait_status)
{
    struct timespec since;
    clock_gettime(CLOCK_MONOTONIC, &since);
    while (!child_has_exited(child)) {
        if (elapsed_ms(&since) > wait_ms)
            return -1;
        sleep_ms(10);
    }
    if (waitpid(child->pid, wait_status, 0) != child->pid)
        return -1;
    *child = (child_t){.pid = -1};
    return 0;
}

static void *
killer_main(void *arg)
{
    killer_t *killer = arg;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += killer->delay_ms / 1000;
    deadline.tv_nsec += (killer->delay_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&killer->mutex);
    int rc = 0;
    while (!killer->cancel && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&killer->cond, &killer->mutex, &deadline);
    if (!killer->cancel) {
        kill(killer->pid, SIGKILL);
        killer->fired = true;
    }
    pthread_mutex_unlock(&killer->mutex);
    return NULL;
}

int
killer_start(killer_t *killer, pid_t pid, long delay_ms)
{
    assert(pid > 0);
    *killer = (killer_t){.pid = pid, .delay_ms = delay_ms};
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&killer->cond, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&killer->mutex, NULL);
    int rc = pthread_create(&killer->thread, NULL, killer_main, killer);
    if (rc != 0) {
        pthread_cond_destroy(&killer->cond);
        pthread_mutex_destroy(&killer->mutex);
    }
    return rc;
}

bool
killer_fired(killer_t *killer)
{
    pthread_mutex_lock(&killer->mutex);
    bool fired = killer->fired;
    pthread_mutex_unlock(&killer->mutex);
    return fired;
}

bool
killer_join(killer_t *killer)
{
    pthread_mutex_lock(&killer->mutex);
    killer->cancel = !killer->fired;
    pthread_cond_signal(&killer->cond);
    pthread_mutex_unlock(&killer->mutex);
    pthread_join(killer->thread, NULL);
    pthread_cond_destroy(&killer->cond);
    pthread_mutex_destroy(&killer->mutex);
    return killer->fired;
}
