/* Volumes: named and anonymous volumes of the "local" driver, stored in
 * root/volumes/<name>/_data with a record in the volumes table. Used by the
 * container module (mounts) and by `berth volume`. Nothing here prints. */
#ifndef BERTH_VOLUME_VOLUME_H
#define BERTH_VOLUME_VOLUME_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "base/json.h"
#include "store/store.h"

int volume_store_init(berth_store *s, berth_error **err) __attribute__((warn_unused_result));

typedef struct volume_info {
	char *name;
	char *driver;
	char *mountpoint; /* root/volumes/<name>/_data */
	int64_t created_ns;
	json_t *labels; /* object */
	json_t *options; /* object: type, device, o */
	bool anonymous;
} volume_info;

void volume_info_free(volume_info *v);
static inline void volume_info_freep(volume_info **v)
{
	volume_info_free(*v);
}
#define _cleanup_volume_info_ __attribute__((cleanup(volume_info_freep)))

typedef struct volume_create_opts {
	const char *name; /* NULL: a random 64-hex name (anonymous) */
	const char *driver; /* NULL or "local" */
	json_t *labels; /* borrowed, may be NULL */
	json_t *options; /* borrowed, may be NULL: {"type":…, "device":…, "o":…} */
	bool anonymous;
} volume_create_opts;

/* Create (or, for an existing named volume, return) a volume. */
int volume_create(berth_store *s, const volume_create_opts *o, volume_info **out, berth_error **err)
    __attribute__((warn_unused_result));
int volume_get(berth_store *s, const char *name, volume_info **out, berth_error **err)
    __attribute__((warn_unused_result));
int volume_list(berth_store *s, volume_info ***out, size_t *n, berth_error **err)
    __attribute__((warn_unused_result));
void volume_infos_free(volume_info **v, size_t n);
/* IDs of the containers using a volume (strv, may be NULL). */
char **volume_users(berth_store *s, const char *name);
/* Remove a volume; refused while a container uses it (force: also when it
 * does not exist). */
int volume_remove(berth_store *s, const char *name, bool force, berth_error **err);
/* Remove unused volumes (all: also named ones; else anonymous only, as
 * Docker >= 23). filters: label=… strv. *removed gets the names. */
int volume_prune(berth_store *s, bool all, char *const *label_filters, char ***removed,
                 int64_t *reclaimed, berth_error **err) __attribute__((warn_unused_result));
/* Docker's volume inspect object. */
json_t *volume_inspect_json(const volume_info *v);
/* Does a label filter ("KEY" or "KEY=VALUE") match labels? */
bool volume_label_match(json_t *labels, const char *filter);

/* Copy a directory tree (contents of src into dst), keeping modes, owners,
 * times and symlinks. Both are directory fds. */
int volume_copy_tree(int srcfd, int dstfd, berth_error **err);
/* Is the directory empty? */
bool volume_dir_empty(int dirfd);
/* Bytes used by a tree. */
int64_t volume_tree_size(int dirfd);

#endif
