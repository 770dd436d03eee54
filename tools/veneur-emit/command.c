/*
 * command.c - -command: run the arguments left after the flags, and time them.
 *
 * The child inherits stdin, stdout, stderr, the environment and the signal
 * dispositions unchanged (so Ctrl-C reaches both, as with Go's os/exec). The
 * time is wall time on the monotonic clock, from just before the spawn to just
 * after the child is reaped; the span's start and end stamps (-ssf) are read
 * from the real-time clock at the same two moments, as Go's time.Now() does.
 * posix_spawnp reports a missing or non-executable program as an error
 * return, so "could not start" is told apart from "ran and exited 127".
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "emit.h"

#include "core/clock.h"

extern char **environ;

/* Unix ns for the span stamps: core/clock.h has real time only as double seconds (~240 ns steps). */
static int64_t real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

vn_err_t vn_emit_run_command(char **argv, int argc, int64_t *elapsed_ns, int64_t *start_unix_ns,
                             int64_t *end_unix_ns, int *status, char *err, size_t errlen)
{
    if (argc <= 0) {
        snprintf(err, errlen, "-command needs a command to run after the flags");
        return VN_ERR_CONFIG;
    }
    /* argv from main() is NULL-terminated at argc; ours is a tail of it, so it is too. */
    pid_t pid;
    int64_t wall_start = real_ns(), start = vn_clock_mono_ns();
    int rc = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
    if (rc != 0) {
        snprintf(err, errlen, "-command: cannot run \"%s\": %s", argv[0], strerror(rc));
        return VN_ERR_IO;
    }
    int ws;
    pid_t w;
    do
        w = waitpid(pid, &ws, 0);
    while (w < 0 && errno == EINTR);
    *elapsed_ns = vn_clock_mono_ns() - start;
    if (start_unix_ns)
        *start_unix_ns = wall_start;
    if (end_unix_ns)
        *end_unix_ns = real_ns();
    if (w < 0) {
        snprintf(err, errlen, "-command: waitpid: %s", strerror(errno));
        return VN_ERR_IO;
    }
    if (WIFEXITED(ws))
        *status = WEXITSTATUS(ws);
    else if (WIFSIGNALED(ws))
        *status = 128 + WTERMSIG(ws); /* the shell's convention; Go exits 255 (-1) here */
    else
        *status = 1;
    return VN_OK;
}
