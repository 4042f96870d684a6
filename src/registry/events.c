#include "registry/events.h"

#include <stdarg.h>

#include "base/cleanup.h"
#include "base/xalloc.h"

void reg_evq_init(reg_evq *q, const reg_events *ev)
{
	q->ev = ev;
	pthread_mutex_init(&q->lock, NULL);
}

void reg_evq_destroy(reg_evq *q)
{
	pthread_mutex_destroy(&q->lock);
}

void reg_ev_layer(reg_evq *q, const char *id, int state, uint64_t cur, int64_t total,
                  const char *extra)
{
	if (!q->ev || !q->ev->layer)
		return;
	pthread_mutex_lock(&q->lock);
	q->ev->layer(q->ev->opaque, id, state, cur, total, extra);
	pthread_mutex_unlock(&q->lock);
}

void reg_ev_line(reg_evq *q, const char *fmt, ...)
{
	if (!q->ev || !q->ev->line)
		return;
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *s = xvasprintf(fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&q->lock);
	q->ev->line(q->ev->opaque, s);
	pthread_mutex_unlock(&q->lock);
}
