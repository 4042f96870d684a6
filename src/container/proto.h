/* The berth-monitor protocol (libc only; shared by berth and the monitor).
 *
 * Each monitor listens on runroot/containers/<id>/attach.sock (SOCK_STREAM).
 * A client sends one request line:
 *   "attach FLAGS\n"   FLAGS: comma list of stdin, stdout, stderr, cleanup;
 *                      the connection then carries frames both ways.
 *   "stop SIG SECS\n"  mark manually stopped, send SIG, SIGKILL after SECS;
 *                      answered "exit CODE\n" once the container has exited.
 *   "kill SIG\n"       send SIG to the container's init: "ok\n" / "err MSG\n".
 *   "wait\n"           answered "exit CODE\n" when the container exits.
 *   "restart POLICY\n" replace the restart policy (update): "ok\n".
 *   "paused 0|1\n"     record in the state file that berth thawed/froze the
 *                      container: "ok\n" (an older monitor answers
 *                      "err unknown request\n": berth then marks the pause
 *                      with a `paused` file, as older berths did).
 *
 * Frames: an 8-byte header {type, 0, 0, 0, len (big-endian u32)} and len
 * bytes of payload (Docker's stdcopy header, with extra types). */
#ifndef BERTH_CONTAINER_PROTO_H
#define BERTH_CONTAINER_PROTO_H

#include <stdint.h>

#define MON_SOCK_NAME "attach.sock"
/* Removed containers' directories kept for new ones (berth-monitor's
 * recycle, container_create's claim), below root/containers, and the name
 * a kept json log waits under. */
#define CTR_SPARES_DIR ".spares"
#define CTR_SPARES_MAX 4
#define CTR_SPARE_LOG "spare-json.log"
#define CTR_SPARE_RUNDIR "spare-rundir" /* the attach socket's directory */
#define CTR_SPARE_RTDIR "spare-rtdir" /* the runtime's state directory */
#define CTR_SPARE_STATE "spare-state" /* the monitor's state file */
#define MON_FRAME_HDR 8
#define MON_FRAME_MAX (1u << 20)

enum mon_frame_type {
	MON_STDIN = 0, /* client -> monitor; len 0 closes the container's stdin */
	MON_STDOUT = 1, /* monitor -> client */
	MON_STDERR = 2, /* monitor -> client */
	MON_EXIT = 3, /* monitor -> client: decimal exit code */
	MON_RESIZE = 4, /* client -> monitor: "ROWS COLS" */
	MON_CLEANED = 5, /* client -> monitor: the client has done the post-exit cleanup */
	MON_SIGNAL = 6, /* client -> monitor: decimal signal number to forward */
	MON_GONE = 7, /* monitor -> client, after MON_EXIT: the cgroup is removed */
};

static inline void mon_frame_header(unsigned char hdr[MON_FRAME_HDR], int type, uint32_t len)
{
	hdr[0] = (unsigned char)type;
	hdr[1] = hdr[2] = hdr[3] = 0;
	hdr[4] = (unsigned char)(len >> 24);
	hdr[5] = (unsigned char)(len >> 16);
	hdr[6] = (unsigned char)(len >> 8);
	hdr[7] = (unsigned char)len;
}

static inline uint32_t mon_frame_len(const unsigned char hdr[MON_FRAME_HDR])
{
	return (uint32_t)hdr[4] << 24 | (uint32_t)hdr[5] << 16 | (uint32_t)hdr[6] << 8 |
	       (uint32_t)hdr[7];
}

#endif
