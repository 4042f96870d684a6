/* Heavy libraries loaded on first use (dlopen), so that every berth
 * command does not pay for resolving libcurl's, libnftables' and
 * libmicrohttpd's ~30 shared objects at start-up. Include this header
 * instead of <curl/curl.h>, <nftables/libnftables.h>, <microhttpd.h> or
 * <archive.h> (defining BERTH_LAZY_CURL/_NFTABLES/_MHD/_ARCHIVE first):
 * calls keep their names and types; each call site resolves its symbol
 * once. A library that cannot be loaded is fatal, like out-of-memory:
 * the packages are hard dependencies (scripts/install-deps.sh). */
#ifndef BERTH_BASE_LAZYLIB_H
#define BERTH_BASE_LAZYLIB_H

enum lazy_lib { LAZY_CURL, LAZY_NFTABLES, LAZY_MHD, LAZY_ARCHIVE };

void *lazy_sym(enum lazy_lib lib, const char *name);

#ifdef __CPPCHECK__
/* cppcheck cannot follow the statement expression below: let it see the
 * plain call (tests/test_cppcheck.py) */
#define LAZY_CALL(lib, name) name
#else
#define LAZY_CALL(lib, name)                                                   \
	({                                                                     \
		static void *lazy_p_;                                          \
		void *lazy_v_ = __atomic_load_n(&lazy_p_, __ATOMIC_ACQUIRE);   \
		if (lazy_v_ == NULL) {                                         \
			lazy_v_ = lazy_sym(lib, #name);                        \
			__atomic_store_n(&lazy_p_, lazy_v_, __ATOMIC_RELEASE); \
		}                                                              \
		(__typeof__(&name))lazy_v_;                                    \
	})
#endif

#ifdef BERTH_LAZY_CURL
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#define curl_global_init(...) LAZY_CALL(LAZY_CURL, curl_global_init)(__VA_ARGS__)
#define curl_easy_init(...) LAZY_CALL(LAZY_CURL, curl_easy_init)(__VA_ARGS__)
#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_easy_setopt(...) LAZY_CALL(LAZY_CURL, curl_easy_setopt)(__VA_ARGS__)
#define curl_easy_perform(...) LAZY_CALL(LAZY_CURL, curl_easy_perform)(__VA_ARGS__)
#define curl_easy_getinfo(...) LAZY_CALL(LAZY_CURL, curl_easy_getinfo)(__VA_ARGS__)
#define curl_easy_cleanup(...) LAZY_CALL(LAZY_CURL, curl_easy_cleanup)(__VA_ARGS__)
#define curl_easy_reset(...) LAZY_CALL(LAZY_CURL, curl_easy_reset)(__VA_ARGS__)
#define curl_easy_strerror(...) LAZY_CALL(LAZY_CURL, curl_easy_strerror)(__VA_ARGS__)
#define curl_slist_append(...) LAZY_CALL(LAZY_CURL, curl_slist_append)(__VA_ARGS__)
#define curl_slist_free_all(...) LAZY_CALL(LAZY_CURL, curl_slist_free_all)(__VA_ARGS__)
#define curl_easy_escape(...) LAZY_CALL(LAZY_CURL, curl_easy_escape)(__VA_ARGS__)
#define curl_free(...) LAZY_CALL(LAZY_CURL, curl_free)(__VA_ARGS__)
#define curl_version_info(...) LAZY_CALL(LAZY_CURL, curl_version_info)(__VA_ARGS__)
#endif

#ifdef BERTH_LAZY_NFTABLES
#include <nftables/libnftables.h>
#define nft_ctx_new(...) LAZY_CALL(LAZY_NFTABLES, nft_ctx_new)(__VA_ARGS__)
#define nft_ctx_free(...) LAZY_CALL(LAZY_NFTABLES, nft_ctx_free)(__VA_ARGS__)
#define nft_ctx_buffer_output(...) LAZY_CALL(LAZY_NFTABLES, nft_ctx_buffer_output)(__VA_ARGS__)
#define nft_ctx_buffer_error(...) LAZY_CALL(LAZY_NFTABLES, nft_ctx_buffer_error)(__VA_ARGS__)
#define nft_ctx_get_output_buffer(...) \
	LAZY_CALL(LAZY_NFTABLES, nft_ctx_get_output_buffer)(__VA_ARGS__)
#define nft_ctx_get_error_buffer(...) \
	LAZY_CALL(LAZY_NFTABLES, nft_ctx_get_error_buffer)(__VA_ARGS__)
#define nft_run_cmd_from_buffer(...) LAZY_CALL(LAZY_NFTABLES, nft_run_cmd_from_buffer)(__VA_ARGS__)
#define nft_ctx_output_set_flags(...) \
	LAZY_CALL(LAZY_NFTABLES, nft_ctx_output_set_flags)(__VA_ARGS__)
#define nft_ctx_output_get_flags(...) \
	LAZY_CALL(LAZY_NFTABLES, nft_ctx_output_get_flags)(__VA_ARGS__)
#endif

#ifdef BERTH_LAZY_MHD
#include <microhttpd.h>
#define MHD_add_response_header(...) LAZY_CALL(LAZY_MHD, MHD_add_response_header)(__VA_ARGS__)
#define MHD_del_response_header(...) LAZY_CALL(LAZY_MHD, MHD_del_response_header)(__VA_ARGS__)
#define MHD_create_response_from_buffer(...) \
	LAZY_CALL(LAZY_MHD, MHD_create_response_from_buffer)(__VA_ARGS__)
#define MHD_create_response_from_callback(...) \
	LAZY_CALL(LAZY_MHD, MHD_create_response_from_callback)(__VA_ARGS__)
#define MHD_create_response_from_fd_at_offset64(...) \
	LAZY_CALL(LAZY_MHD, MHD_create_response_from_fd_at_offset64)(__VA_ARGS__)
#define MHD_destroy_response(...) LAZY_CALL(LAZY_MHD, MHD_destroy_response)(__VA_ARGS__)
#define MHD_is_feature_supported(...) LAZY_CALL(LAZY_MHD, MHD_is_feature_supported)(__VA_ARGS__)
#define MHD_lookup_connection_value(...) \
	LAZY_CALL(LAZY_MHD, MHD_lookup_connection_value)(__VA_ARGS__)
#define MHD_queue_response(...) LAZY_CALL(LAZY_MHD, MHD_queue_response)(__VA_ARGS__)
#define MHD_start_daemon(...) LAZY_CALL(LAZY_MHD, MHD_start_daemon)(__VA_ARGS__)
#define MHD_stop_daemon(...) LAZY_CALL(LAZY_MHD, MHD_stop_daemon)(__VA_ARGS__)
#define MHD_get_connection_info(...) LAZY_CALL(LAZY_MHD, MHD_get_connection_info)(__VA_ARGS__)
#define MHD_suspend_connection(...) LAZY_CALL(LAZY_MHD, MHD_suspend_connection)(__VA_ARGS__)
#define MHD_resume_connection(...) LAZY_CALL(LAZY_MHD, MHD_resume_connection)(__VA_ARGS__)
#endif

#ifdef BERTH_LAZY_ARCHIVE
#include <archive.h>
#include <archive_entry.h>
#define archive_entry_hardlink(...) LAZY_CALL(LAZY_ARCHIVE, archive_entry_hardlink)(__VA_ARGS__)
#define archive_entry_pathname(...) LAZY_CALL(LAZY_ARCHIVE, archive_entry_pathname)(__VA_ARGS__)
#define archive_entry_stat(...) LAZY_CALL(LAZY_ARCHIVE, archive_entry_stat)(__VA_ARGS__)
#define archive_entry_symlink(...) LAZY_CALL(LAZY_ARCHIVE, archive_entry_symlink)(__VA_ARGS__)
#define archive_error_string(...) LAZY_CALL(LAZY_ARCHIVE, archive_error_string)(__VA_ARGS__)
#define archive_read_data_into_fd(...) \
	LAZY_CALL(LAZY_ARCHIVE, archive_read_data_into_fd)(__VA_ARGS__)
#define archive_read_free(...) LAZY_CALL(LAZY_ARCHIVE, archive_read_free)(__VA_ARGS__)
#define archive_read_new(...) LAZY_CALL(LAZY_ARCHIVE, archive_read_new)(__VA_ARGS__)
#define archive_read_next_header(...) LAZY_CALL(LAZY_ARCHIVE, archive_read_next_header)(__VA_ARGS__)
#define archive_read_open_fd(...) LAZY_CALL(LAZY_ARCHIVE, archive_read_open_fd)(__VA_ARGS__)
#define archive_read_support_filter_all(...) \
	LAZY_CALL(LAZY_ARCHIVE, archive_read_support_filter_all)(__VA_ARGS__)
#define archive_read_support_format_gnutar(...) \
	LAZY_CALL(LAZY_ARCHIVE, archive_read_support_format_gnutar)(__VA_ARGS__)
#define archive_read_support_format_tar(...) \
	LAZY_CALL(LAZY_ARCHIVE, archive_read_support_format_tar)(__VA_ARGS__)
#endif

#endif
