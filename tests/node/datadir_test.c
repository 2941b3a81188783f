// The node lock: a running node's lock refuses a second node, and a client's
// momentary probe (datadir_is_locked) does not. Before 2026-12-06 a node starting
// during a client's probe exited with "held by a running node" (seen once in the
// crash test: the driver's clients poll while the node restarts).
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "datadir.h"

static char dir[64];

static void
make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/sm-datadir-test.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void
remove_dir(void)
{
    char path[DATADIR_PATH_MAX];
    datadir_path(path, dir, "node.lock");
    unlink(path);
    rmdir(dir);
}

// Another open of the lock file, as another process would have.
static int
hold(int operation)
{
    char path[DATADIR_PATH_MAX];
    datadir_path(path, dir, "node.lock");
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(flock(fd, operation | LOCK_NB), 0);
    return fd;
}

static void *
release_later(void *arg)
{
    struct timespec pause = {.tv_nsec = 30 * 1000000L};
    nanosleep(&pause, NULL);
    close(*(int *)arg);
    return NULL;
}

Test(datadir, a_clients_momentary_probe_does_not_stop_a_node_from_starting)
{
    make_dir();
    int probe = hold(LOCK_SH); // as datadir_is_locked holds it, here for 30 ms
    pthread_t thread;
    cr_assert_eq(pthread_create(&thread, NULL, release_later, &probe), 0);
    bool held = false;
    char err[256] = "";
    int fd = datadir_lock(dir, &held, err, sizeof err);
    pthread_join(thread, NULL);
    cr_assert_geq(fd, 0, "the node took the lock once the probe let go: %s", err);
    cr_assert_not(held);
    cr_assert(datadir_is_locked(dir), "a probe now sees the node");
    close(fd);
    cr_assert_not(datadir_is_locked(dir));
    remove_dir();
}

Test(datadir, a_running_nodes_lock_refuses_a_second_node_and_names_the_problem)
{
    make_dir();
    int running = hold(LOCK_EX);
    bool held = false;
    char err[256] = "";
    cr_assert_eq(datadir_lock(dir, &held, err, sizeof err), -1);
    cr_assert(held);
    cr_assert_not_null(strstr(err, "held by a running node"), "%s", err);
    cr_assert_not_null(strstr(err, "stop that node first"), "%s", err);
    close(running);
    remove_dir();
}
