/* Internal to src/container. */
#ifndef BERTH_CONTAINER_INTERNAL_H
#define BERTH_CONTAINER_INTERNAL_H

#include "container/container.h"
#include "runtime/runtime.h"

int ctr_validate_name(const char *name, berth_error **err);
int ctr_name_conflict(berth_store *s, const char *name, berth_error **err);
int container_set_db_state(berth_store *s, const char *id, const char *state, berth_error **err);
char *container_health_status(berth_store *s, const ctr_record *r);
/* A Docker-style random name: adjective_surname. */
char *ctr_random_name(void);
/* 64 random hex digits. */
void ctr_random_id(char out[CTR_ID_LEN + 1]);

/* The runtime context for containers of this store (state under
 * runroot/runtime). */
void ctr_rt_ctx(berth_store *s, rt_ctx *ctx);

/* Build the OCI config for a container from its record (Config,
 * HostConfig, Mounts) on top of rt_default_spec(). rootfs: the merged
 * overlay directory. */
json_t *ctr_build_spec(berth_store *s, const ctr_env *env, ctr_record *r, const char *rootfs,
                       berth_error **err);

/* User "name|uid[:group|gid]" -> process.user (looked up in the rootfs's
 * /etc/passwd and /etc/group); *home gets the user's home. */
int ctr_apply_user(json_t *proc, int rootfd, const char *user, json_t *group_add, char **home,
                   berth_error **err);
extern const char *const ctr_all_caps[41];
/* May this process grant ctr_all_caps[i]? */
bool ctr_cap_available(size_t i);

/* Resolve the helper programs. */
char *ctr_find_helper(const ctr_env *env, const char *which);

/* Write /etc/hostname, hosts and resolv.conf files into the container dir. */
int ctr_write_etc_files(berth_store *s, ctr_record *r, berth_error **err);

/* Mounts: compute inspect's "Mounts" (and create volumes) at create time. */
int ctr_resolve_mounts(berth_store *s, const char *id, json_t *config, json_t *hostconfig,
                       json_t **mounts, berth_error **err);
/* Record volume use in container_volumes (inside the create transaction). */
int ctr_record_volumes(berth_store *s, const char *id, json_t *mounts, berth_error **err);
/* Copy image content into fresh anonymous/named volumes (start time, rootfs
 * mounted). */
int ctr_init_volumes(berth_store *s, json_t *mounts, const char *rootfs, berth_error **err);

/* --- user namespaces (userns.c) --- */
/* The record's "IdMappings" for a new container ({"uidMappings": [...],
 * "gidMappings": [...]}, OCI's shape) when berth.json has userns-remap and
 * HostConfig.UsernsMode is not "host"; *out NULL otherwise. Refuses what
 * dockerd refuses with remapping (--privileged, host network or pid). */
int ctr_userns_for_create(const json_t *host, json_t **out, berth_error **err);
/* userns-remap value -> mappings (creates dockremap for "default"). */
int ctr_userns_resolve(const char *remap, json_t **out, berth_error **err);
/* Mappings of one user from a subuid/subgid text (name or number), ranges
 * sorted and stacked from container id 0; returns how many (0: *out NULL). */
int ctr_subid_mappings(const char *text, size_t len, const char *name, const char *num,
                       json_t **out);
/* Host id of container id (which: "uidMappings"/"gidMappings"), -1 when
 * unmapped. */
long long ctr_idmap_host(const json_t *idm, const char *which, unsigned long id);
/* The inverse: the container's id for a host id, -1 outside the mappings. */
long long ctr_idmap_container(const json_t *idm, const char *which, unsigned long id);
/* Host id that container id 0 maps to. */
unsigned long ctr_idmap_root(const json_t *idm, const char *which);
/* Mount dir/merged: overlayfs over idmapped mounts of the layers (lower,
 * ':'-separated) and of dir (upper, work), in the caller's mount
 * namespace. The layers and upper keep the container's view of ids. */
int ctr_userns_mount_rootfs(const char *dir, const char *lower, const json_t *idm,
                            berth_error **err);
/* Give dir's hostname, hosts and resolv.conf to the remapped root. */
int ctr_userns_own_etc_files(const char *dir, const json_t *idm, berth_error **err);
/* Before start: let the remapped root traverse to its rootfs, etc files
 * and volumes; give fresh volumes to the remapped root. */
int ctr_userns_prepare(berth_store *s, ctr_record *r, const json_t *idm, berth_error **err);

/* Command line as ps shows it. */
char *ctr_command_string(json_t *path_args);

/* run's start process, forked before the store opens (container_fork_early):
 * the record container_create will make for body (the ContainerCreate JSON)
 * under id, from the image the last run of that name resolved to, and the
 * container's directory made. -1 when there is nothing to guess from or the
 * record would need the database (volumes, a user namespace, container:). */
int container_guess(berth_store *s, json_t *body, const char *id, json_t **pre,
                    char image_id[DIGEST_STR_LEN + 1]);
/* The image ID the early start process guessed (container_guess) and made
 * the container's directory for, or NULL. Waits for its word. */
const char *container_early_guessed(struct ctr_early *e);

#endif
