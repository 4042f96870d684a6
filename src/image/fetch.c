/* `import URL`: the daemon side of Docker's import downloads the archive
 * (http or https, redirects followed) before importing it. Kept apart from
 * import.c so that only the commands that fetch link curl in. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#define BERTH_LAZY_CURL
#include "base/cleanup.h"
#include "base/fs.h"
#include "base/lazylib.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "image/image.h"

static size_t fetch_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	int fd = *(int *)ud;
	return write_all(fd, ptr, size * nmemb) < 0 ? 0 : size * nmemb;
}

int image_fetch_url(berth_store *s, const char *url, int *out, berth_error **err)
{
	*out = -1;
	if (!str_has_prefix(url, "http://") && !str_has_prefix(url, "https://"))
		return berth_err(err, BERTH_E_INVALID, "not an http or https URL: %s", url);
	int sfd = store_staging(s, NULL, err);
	if (sfd < 0)
		return -1;
	/* an unlinked file: nothing to clean up whatever happens */
	_cleanup_close_ int fd = openat(sfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return berth_err_sys(err, errno, "creating a temporary file for %s", url);
	CURL *c = curl_easy_init();
	if (c == NULL)
		return berth_err(err, BERTH_E_GENERIC, "curl init failed");
	char ebuf[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fetch_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &fd);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "berth");
	CURLcode rc = curl_easy_perform(c);
	long code = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK)
		return berth_err(err, BERTH_E_NETWORK, "Get \"%s\": %s", url,
		                 *ebuf ? ebuf : curl_easy_strerror(rc));
	if (code >= 400)
		return berth_err(err, BERTH_E_NETWORK, "failed to GET %s with status %ld", url,
		                 code);
	if (lseek(fd, 0, SEEK_SET) < 0)
		return berth_err_sys(err, errno, "rewinding the download of %s", url);
	*out = steal_fd(fd);
	return 0;
}
