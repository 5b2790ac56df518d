#include "CProcessControl.h"

#include <errno.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif

int oni_set_parent_death_signal(int signal) {
#if defined(__linux__)
    return prctl(PR_SET_PDEATHSIG, (unsigned long)signal, 0, 0, 0);
#else
    (void)signal;
    errno = ENOSYS;
    return -1;
#endif
}
