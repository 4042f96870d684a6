/* Health checks (Docker's HEALTHCHECK): berth-monitor runs
 * `berth container __health ID` every interval; one probe runs the test
 * command in the container and updates containers/<id>/health.json. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "container/internal.h"

#define HEALTH_OUTPUT_MAX 4096
#define HEALTH_LOG_MAX 5

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static json_t *ts_json(int64_t ns)
{
	struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
	_cleanup_free_ char *t = time_rfc3339nano(&ts);
	return json_string(t);
}

/* Run process in the container, capturing up to HEALTH_OUTPUT_MAX bytes of
 * output; *code is -1 on timeout. */
static int probe(berth_store *s, ctr_record *r, json_t *process, int64_t timeout_ns, int *code,
                 char **output, berth_error **err)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return berth_err_sys(err, errno, "pipe");
	_cleanup_close_ int rd = p[0];
	_cleanup_close_ int wr = p[1];
	_cleanup_close_ int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
	rt_ctx ctx;
	ctr_rt_ctx(s, &ctx);
	rt_exec_opts o;
	rt_exec_opts_init(&o);
	o.stdio_fds[0] = nul;
	o.stdio_fds[1] = wr;
	o.stdio_fds[2] = wr;
	pid_t pid = 0;
	if (rt_exec(&ctx, r->id, process, &o, &pid, err) < 0)
		return -1;
	close(wr);
	wr = -1;
	strbuf out;
	sb_init(&out);
	int64_t deadline = now_ns() + timeout_ns;
	bool timed_out = false;
	for (;;) {
		int64_t left = deadline - now_ns();
		if (left <= 0) {
			timed_out = true;
			break;
		}
		struct pollfd pf = {.fd = rd, .events = POLLIN};
		if (poll(&pf, 1, (int)(left / 1000000) + 1) <= 0)
			continue;
		char buf[4096];
		ssize_t n = read(rd, buf, sizeof(buf));
		if (n <= 0)
			break;
		if (out.len < HEALTH_OUTPUT_MAX)
			sb_appendn(&out, buf,
			           (size_t)n < HEALTH_OUTPUT_MAX - out.len
			               ? (size_t)n
			               : HEALTH_OUTPUT_MAX - out.len);
	}
	if (timed_out)
		kill(pid, SIGKILL);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	*code = timed_out ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	*output = out.buf ? sb_steal(&out) : xstrdup("");
	return 0;
}

int container_healthcheck_run(berth_store *s, ctr_record *r, berth_error **err)
{
	json_t *hc = json_object_get(json_object_get(r->config, "Config"), "Healthcheck");
	json_t *test = json_object_get(hc, "Test");
	const char *kind = json_string_value(json_array_get(test, 0));
	if (kind == NULL || !strcmp(kind, "NONE"))
		return 0;
	json_t *args = json_array();
	_cleanup_json_ json_t *ag = args;
	if (!strcmp(kind, "CMD-SHELL")) {
		json_array_append_new(args, json_string("/bin/sh"));
		json_array_append_new(args, json_string("-c"));
		json_array_append(args, json_array_get(test, 1));
	} else {
		for (size_t i = 1; i < json_array_size(test); i++)
			json_array_append(args, json_array_get(test, i));
	}
	_cleanup_free_ char *dir = container_dir(s, r->id);
	_cleanup_free_ char *ppath = xasprintf("%s/process.json", dir);
	_cleanup_json_ json_t *process = json_parse_file(ppath, err);
	if (process == NULL)
		return -1;
	json_object_set(process, "args", args);
	json_object_set_new(process, "terminal", json_false());
	int64_t timeout = json_get_int(hc, "Timeout", 0);
	if (timeout <= 0)
		timeout = 30LL * 1000000000;
	int64_t retries = json_get_int(hc, "Retries", 0);
	if (retries <= 0)
		retries = 3;
	int64_t start_period = json_get_int(hc, "StartPeriod", 0);

	int64_t start = now_ns();
	int code = 0;
	_cleanup_free_ char *output = NULL;
	_cleanup_error_ berth_error *perr = NULL;
	if (probe(s, r, process, timeout, &code, &output, &perr) < 0) {
		code = -1;
		output = xstrdup(perr ? perr->msg : "probe failed");
	} else if (code == -1) {
		free(output);
		output = xasprintf("Health check exceeded timeout (%llds)",
		                   (long long)(timeout / 1000000000));
	}
	int64_t end = now_ns();
	_cleanup_free_ char *hpath = xasprintf("%s/health.json", dir);
	_cleanup_json_ json_t *h = json_parse_file(hpath, NULL);
	if (!json_is_object(h)) {
		json_decref(h);
		h = json_pack("{s:s,s:i,s:[]}", "Status", "starting", "FailingStreak", 0, "Log");
	}
	json_t *log = json_object_get(h, "Log");
	if (!json_is_array(log)) {
		log = json_array();
		json_object_set_new(h, "Log", log);
	}
	json_array_append_new(log, json_pack("{s:o,s:o,s:i,s:s}", "Start", ts_json(start), "End",
	                                     ts_json(end), "ExitCode", code, "Output", output));
	while (json_array_size(log) > HEALTH_LOG_MAX)
		json_array_remove(log, 0);
	int64_t streak = json_get_int(h, "FailingStreak", 0);
	if (code == 0) {
		json_object_set_new(h, "Status", json_string("healthy"));
		streak = 0;
	} else {
		bool in_start = start_period > 0 && start - r->st.started_ns < start_period &&
		                str_eq(json_get_str(h, "Status"), "starting");
		if (!in_start) {
			streak++;
			if (streak >= retries)
				json_object_set_new(h, "Status", json_string("unhealthy"));
		}
	}
	json_object_set_new(h, "FailingStreak", json_integer(streak));
	_cleanup_free_ char *txt = json_dump_compact(h);
	return atomic_write(hpath, txt, strlen(txt), 0644, false, err);
}
