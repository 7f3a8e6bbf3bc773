/*
 * ipc/codes.c: engine codes by name (see ipc.h), for the scanner log,
 * `avwardenctl stats` and the client library's avw_code_name(). The names
 * are Momentum's where its documentation has one (its decomposer DEC_ and
 * generic GEN_ scan codes); avwarden's own causes, which Momentum has no
 * word for, are AVW_. No dependencies: libavwarden compiles this file too.
 */
#include "ipc.h"

/* libclamav's cl_error_t (below 100), by what it says the engine could
 * not do. */
static const char *engine_code_name(int32_t c)
{
	switch (c) {
	case 0: return "NONE";
	case 7: return "DEC_RESULT_FILE_EXTRACT_FAILED";                  /* CL_EUNPACK */
	case 8: case 11: case 12: case 13: case 15: case 16: case 19:
		return "DEC_RESULT_FILE_ACCESS_FAILED";                   /* CL_EOPEN ... CL_EMAP */
	case 9: case 10: case 14: case 17: case 18:
		return "DEC_RESULT_TEMPFILE_ACCESS_FAILED";               /* CL_ECREAT ... CL_ETMPDIR */
	case 20: return "GEN_RESULT_OUT_OF_MEMORY";                       /* CL_EMEM */
	case 21: return "DEC_RESULT_MAXIMUM_EXTRACT_TIME_EXCEEDED";       /* CL_ETIMEOUT */
	case 23: return "DEC_RESULT_MAXIMUM_DEPTH_REACHED";               /* CL_EMAXREC */
	case 24: return "DEC_RESULT_MAXIMUM_EXTRACT_SIZE_EXCEEDED";       /* CL_EMAXSIZE */
	case 25: return "DEC_RESULT_MAXIMUM_FILES_EXTRACTED";             /* CL_EMAXFILES */
	case 26: case 27: return "DEC_RESULT_MALFORMED_CONTAINER_DETECTED"; /* CL_EFORMAT, CL_EPARSE */
	default: return "DEC_RESULT_SCAN_FILE_DECOMPOSE_ERROR";
	}
}

const char *ipc_code_name(int32_t code)
{
	static const char *const own[] = {
		[IPC_CODE_CRASH - 100] = "AVW_WORKER_CRASHED",
		[IPC_CODE_TIMEOUT - 100] = "AVW_SCAN_TIMEOUT",
		[IPC_CODE_VIOLATION - 100] = "AVW_SANDBOX_VIOLATION",
		[IPC_CODE_UNAVAILABLE - 100] = "AVW_NO_SCANNER",
		[IPC_CODE_QUEUE_FULL - 100] = "AVW_QUEUE_FULL",
		[IPC_CODE_TOO_LARGE - 100] = "AVW_TOO_LARGE",
		[IPC_CODE_MALFORMED - 100] = "AVW_MALFORMED_RESULT",
		[IPC_CODE_ENGINE_FAILED - 100] = "DEC_RESULT_SCAN_FILE_DECOMPOSE_ERROR",
	};
	static const char *const dec[] = {
		[IPC_DEC_MALFORMED_CONTAINER - 200] = "DEC_RESULT_MALFORMED_CONTAINER_DETECTED",
		[IPC_DEC_ENCRYPTED_CONTAINER - 200] = "DEC_RESULT_ENCRYPTED_CONTAINER_DETECTED",
		[IPC_DEC_FILE_EXTRACT_FAILED - 200] = "DEC_RESULT_FILE_EXTRACT_FAILED",
		[IPC_DEC_MAX_EXTRACT_SIZE - 200] = "DEC_RESULT_MAXIMUM_EXTRACT_SIZE_EXCEEDED",
		[IPC_DEC_MAX_CUMULATIVE_EXTRACT_SIZE - 200] = "DEC_RESULT_MAXIMUM_CUMULATIVE_EXTRACT_SIZE_EXCEEDED",
		[IPC_DEC_MAX_FILES - 200] = "DEC_RESULT_MAXIMUM_FILES_EXTRACTED",
		[IPC_DEC_FILE_SPLIT - 200] = "DEC_RESULT_FILE_SPLIT_ACROSS_CONTAINERS",
		[IPC_GEN_OUT_OF_MEMORY - 200] = "GEN_RESULT_OUT_OF_MEMORY",
		[IPC_DEC_PARTIAL_MESSAGE - 200] = "DEC_RESULT_PARTIAL_MESSAGE_DETECTED",
		[IPC_DEC_UNKNOWN_ALGORITHM - 200] = "DEC_RESULT_CONTAINER_UNKNOWN_ALGORITHM",
		[IPC_DEC_TEMPFILE_ACCESS_FAILED - 200] = "DEC_RESULT_TEMPFILE_ACCESS_FAILED",
		[IPC_DEC_FILE_ACCESS_FAILED - 200] = "DEC_RESULT_FILE_ACCESS_FAILED",
	};

	if (code == -1)
		return "UNKNOWN";  /* a plain clamd's ERROR carries no code */
	if (code >= 0 && code < 100)
		return engine_code_name(code);
	if (code >= 100 && (size_t)(code - 100) < sizeof(own) / sizeof(own[0]) && own[code - 100] != NULL)
		return own[code - 100];
	if (code >= 200 && (size_t)(code - 200) < sizeof(dec) / sizeof(dec[0]) && dec[code - 200] != NULL)
		return dec[code - 200];
	return "UNKNOWN";
}
