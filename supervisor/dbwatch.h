/*
 * supervisor/dbwatch.h: has the database changed? (update_interval, as
 * clamd's SelfCheck). A fingerprint of its signature files, without reading
 * them, and a timer that asks.
 */
#ifndef AVW_DBWATCH_H
#define AVW_DBWATCH_H

#include <stdint.h>
#include <uv.h>

/* Names, sizes, modification times and inodes of the signature files under
 * path (or of the one file). 0 when it cannot be read (the host will say why). */
uint64_t sup_db_fingerprint(const char *path);
/* Calls check() every interval_s seconds (0: never). */
int sup_dbwatch_start(uv_loop_t *loop, unsigned interval_s, void (*check)(void));
void sup_dbwatch_stop(void);

#endif
