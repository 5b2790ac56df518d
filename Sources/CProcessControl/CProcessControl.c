#include "CProcessControl.h"

#include <errno.h>
#include <signal.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif

int oni_exec_tied(const char *path, char *const argv[], int signal, int expected_parent) {
#if defined(__linux__)
    sigset_t none;
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) != 0) return -1;
    const int defaults[] = {SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGPIPE};
    for (unsigned i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
        struct sigaction action = {0};
        action.sa_handler = SIG_DFL;
        sigemptyset(&action.sa_mask);
        if (sigaction(defaults[i], &action, NULL) != 0) return -1;
    }
    if (prctl(PR_SET_PDEATHSIG, (unsigned long)signal, 0, 0, 0) != 0) return -1;
    if (getppid() != (pid_t)expected_parent) return -2;
    execv(path, argv);
    return -1;
#else
    (void)path; (void)argv; (void)signal; (void)expected_parent;
    errno = ENOSYS;
    return -1;
#endif
}
