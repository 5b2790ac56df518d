#ifndef ONI_CPROCESSCONTROL_H
#define ONI_CPROCESSCONTROL_H

/// Replaces this process with `path` (argv as for execv) that the kernel sends `signal`
/// when this process's parent dies (Linux's PR_SET_PDEATHSIG, kept across execve), after
/// unblocking every signal and restoring the default actions of SIGINT, SIGQUIT, SIGTERM,
/// SIGHUP and SIGPIPE: a program started from a thread that blocks signals must still
/// answer SIGTERM. If the parent is no longer `expected_parent` (it died before the request
/// took effect), returns -2 without exec. Otherwise returns only on failure: -1, errno set.
int oni_exec_tied(const char *path, char *const argv[], int signal, int expected_parent);

#endif
