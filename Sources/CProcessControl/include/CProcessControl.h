#ifndef ONI_CPROCESSCONTROL_H
#define ONI_CPROCESSCONTROL_H

/// Asks the kernel to send `signal` to this process when its parent thread exits
/// (Linux's PR_SET_PDEATHSIG; kept across execve). Returns 0, or -1 with errno set
/// (and always -1 where the call does not exist).
int oni_set_parent_death_signal(int signal);

#endif
