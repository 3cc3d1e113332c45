/* SPDX-License-Identifier: MIT */
/* Termination signals as a file descriptor, so the main loop can wait on them. */
#ifndef PL_SIGNAL_H
#define PL_SIGNAL_H

/* Block SIGINT/SIGTERM and route them to a signalfd. Return: 0 or -errno. */
int pl_signal_setup(void);
/* The signalfd, or -1 when pl_signal_setup() was not called (library use). */
int pl_signal_fd(void);

#endif /* PL_SIGNAL_H */
