/* Progress events of a pull or push, reported from several transfer
 * threads: one lock keeps the caller's callbacks from running at once. */
#ifndef BERTH_REGISTRY_EVENTS_H
#define BERTH_REGISTRY_EVENTS_H

#include <pthread.h>
#include <stdint.h>

#include "registry/registry.h"

typedef struct reg_evq {
	const reg_events *ev; /* NULL: no one listens */
	pthread_mutex_t lock;
} reg_evq;

void reg_evq_init(reg_evq *q, const reg_events *ev);
void reg_evq_destroy(reg_evq *q);
/* One layer's state (reg_events.layer). */
void reg_ev_layer(reg_evq *q, const char *id, int state, uint64_t cur, int64_t total,
                  const char *extra);
/* One status line (reg_events.line), printf-style. */
void reg_ev_line(reg_evq *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
