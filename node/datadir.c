#include "datadir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

// A client asking whether a node runs (datadir_is_locked) holds a shared lock for
// a moment; a node starting just then would take it for a running node and exit.
// The node tries again for this long before it believes the lock is held.
#define DATADIR_LOCK_TRIES 50
#define DATADIR_LOCK_RETRY_MS 2

void
datadir_path(char *out, const char *dir, const char *name)
{
    snprintf(out, DATADIR_PATH_MAX, "%s/%s", dir, name);
}

void
datadir_endpoint(char *out, const char *dir)
{
    snprintf(out, DATADIR_PATH_MAX, "ipc://%s/control.sock", dir);
}

int
datadir_lock(const char *dir, bool *held, char *err, size_t err_size)
{
    char path[DATADIR_PATH_MAX];
    datadir_path(path, dir, "node.lock");
    *held = false;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, err_size, "cannot open '%s': %s; check the data directory's permissions",
                 path, strerror(errno));
        return -1;
    }
    int locked = flock(fd, LOCK_EX | LOCK_NB);
    for (int tries = 1; locked != 0 && errno == EWOULDBLOCK && tries < DATADIR_LOCK_TRIES; tries++) {
        struct timespec pause = {.tv_nsec = DATADIR_LOCK_RETRY_MS * 1000000L};
        nanosleep(&pause, NULL);
        locked = flock(fd, LOCK_EX | LOCK_NB);
    }
    if (locked != 0) {
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = 0;
        pid[strcspn(pid, "\n")] = 0;
        snprintf(err, err_size,
                 "data directory '%s' is held by a running node (pid %s); stop that node "
                 "first, or pass another --data",
                 dir, pid[0] ? pid : "unknown");
        *held = true;
        close(fd);
        return -1;
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
        // The pid is a courtesy for messages; the lock itself is what counts.
    }
    return fd;
}

bool
datadir_is_locked(const char *dir)
{
    char path[DATADIR_PATH_MAX];
    datadir_path(path, dir, "node.lock");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool locked = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd);
    return locked;
}
