/*
 * supervisor/control.h: the control socket avwardenctl talks to. One
 * request line, one reply (for people, or one JSON object), then close.
 * It never calls into main: shutdown and log reopening go through the ops
 * it is given.
 */
#ifndef AVW_CONTROL_H
#define AVW_CONTROL_H

#include <stddef.h>
#include <uv.h>

struct sup_control_ops {
	void (*shutdown)(const char *why);
	/* 0, or -1 with err set. */
	int (*reopen_logs)(char *err, size_t errlen);
};

int sup_control_start(uv_loop_t *loop, const char *path, unsigned mode, const struct sup_control_ops *ops,
    char *err, size_t errlen);
void sup_control_stop(void);

#endif
