/* A layer byte stream: reads a file descriptor holding a tar, tar+gzip or
 * tar+zstd stream (detected by magic), hands out the uncompressed bytes
 * and hashes both the bytes read and the uncompressed ones on the way.
 * Internal to src/image. */
#ifndef BERTH_IMAGE_COMPRESS_H
#define BERTH_IMAGE_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "base/digest.h"
#include "base/error.h"
#include "image/layer.h"

typedef enum { LAYER_PLAIN, LAYER_GZIP, LAYER_ZSTD } layer_compression;

typedef struct layer_stream layer_stream;

int layer_stream_open(int fd, layer_stream **out, berth_error **err)
    __attribute__((warn_unused_result));
/* The same over src (fd is used only when src has neither function). */
int layer_stream_open_source(const layer_source *src, int fd, layer_stream **out, berth_error **err)
    __attribute__((warn_unused_result));
layer_compression layer_stream_compression(const layer_stream *s);
/* Point *p at the next 1..max uncompressed bytes (valid until the next
 * call) and consume them; *len = 0 at the end. Same shape as tar_next_fn. */
int layer_stream_next(void *s, const unsigned char **p, size_t *len, size_t max, berth_error **err);
/* Read (and hash) the rest of the stream, then give both digests: of the
 * bytes read from the fd and of the uncompressed bytes. */
int layer_stream_finish(layer_stream *s, char digest[DIGEST_STR_LEN + 1],
                        char diff_id[DIGEST_STR_LEN + 1], berth_error **err)
    __attribute__((warn_unused_result));
void layer_stream_free(layer_stream *s);
static inline void layer_stream_freep(layer_stream **s)
{
	layer_stream_free(*s);
}
#define _cleanup_layer_stream_ __attribute__((cleanup(layer_stream_freep)))

#endif
