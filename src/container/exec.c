/* berth exec: a new process in a running container, from the container's
 * process template (process.json, written at start) with the user's
 * overrides. The process is a child of the caller. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "container/internal.h"

int container_exec(berth_store *s, ctr_record *r, const ctr_exec_opts *o, pid_t *pid,
                   berth_error **err)
{
	const char *st = container_status(r);
	if (!strcmp(st, "paused"))
		return berth_err(err, BERTH_E_CONFLICT,
		                 "Container %s is paused, unpause the container before exec",
		                 r->id);
	if (strcmp(st, "running"))
		return berth_err(err, BERTH_E_CONFLICT, "Container %s is not running", r->id);
	char path[512];
	snprintf(path, sizeof(path), "%s/containers/%s/process.json", store_root(s), r->id);
	_cleanup_json_ json_t *proc = json_parse_file(path, err);
	if (proc == NULL)
		return -1;
	json_t *args = json_array();
	for (char **a = o->argv; a && *a; a++)
		json_array_append_new(args, json_string(*a));
	json_object_set_new(proc, "args", args);
	json_object_set_new(proc, "terminal", json_boolean(o->tty));
	if (o->workdir && *o->workdir)
		json_object_set_new(proc, "cwd", json_string(o->workdir));
	json_t *env = json_object_get(proc, "env");
	if (!json_is_array(env)) {
		env = json_array();
		json_object_set_new(proc, "env", env);
	}
	for (char **e = o->env; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		size_t kl = eq ? (size_t)(eq - *e) : strlen(*e);
		for (size_t i = 0; i < json_array_size(env); i++) {
			const char *x = json_string_value(json_array_get(env, i));
			if (x && !strncmp(x, *e, kl) && x[kl] == '=') {
				json_array_remove(env, i);
				break;
			}
		}
		if (eq)
			json_array_append_new(env, json_string(*e));
	}
	if (o->tty) {
		bool has_term = false;
		size_t i;
		json_t *v;
		json_array_foreach (env, i, v) {
			has_term |= str_has_prefix(json_string_value(v), "TERM=");
		}
		if (!has_term)
			json_array_append_new(env, json_string("TERM=xterm"));
	}
	if (o->user && *o->user) {
		char root[64];
		snprintf(root, sizeof(root), "/proc/%d/root", r->st.pid);
		_cleanup_close_ int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (rootfd < 0)
			return berth_err_sys(err, errno, "opening the container's root");
		_cleanup_free_ char *home = NULL;
		if (ctr_apply_user(proc, rootfd, o->user, NULL, &home, err) < 0)
			return -1;
	}
	if (o->privileged) {
		json_t *caps = json_array();
		for (size_t i = 0; i < 41; i++)
			if (ctr_cap_available(i))
				json_array_append_new(caps, json_string(ctr_all_caps[i]));
		json_object_set_new(proc, "capabilities",
		                    json_pack("{s:O,s:O,s:O}", "bounding", caps, "effective", caps,
		                              "permitted", caps));
		json_decref(caps);
	}
	rt_ctx ctx;
	ctr_rt_ctx(s, &ctx);
	rt_exec_opts eo;
	rt_exec_opts_init(&eo);
	for (int i = 0; i < 3; i++)
		eo.stdio_fds[i] = o->stdio[i];
	eo.console_socket = o->console_socket;
	return rt_exec(&ctx, r->id, proc, &eo, pid, err);
}
