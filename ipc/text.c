/*
 * ipc/text.c: names and texts that cross process boundaries: result
 * statuses, libclamav's error texts, and the cleaning every string from a
 * scanner gets before it reaches a log line or a reply.
 */
#define _GNU_SOURCE
#include "ipc.h"

#include <string.h>

const char *ipc_status_name(enum ipc_status s)
{
	switch (s) {
	case IPC_CLEAN: return "CLEAN";
	case IPC_INFECTED: return "INFECTED";
	case IPC_UNSCANNABLE: return "UNSCANNABLE";
	case IPC_ERROR: return "ERROR";
	}
	return "INVALID";
}

const char *ipc_engine_strerror(int32_t code)
{
	/* cl_error_t values and texts as libclamav 1.x defines them. */
	static const char *const text[] = {
		[0] = "No viruses detected",
		[1] = "Virus(es) detected",
		[2] = "Null argument passed to function",
		[3] = "Invalid argument passed to function",
		[4] = "Malformed database",
		[5] = "Broken or not a CVD file",
		[6] = "Can't verify database integrity",
		[7] = "Can't unpack some data",
		[8] = "Can't open file or directory",
		[9] = "Can't create new file",
		[10] = "Can't unlink file",
		[11] = "Can't get file status",
		[12] = "Can't read file",
		[13] = "Can't set file offset",
		[14] = "Can't write to file",
		[15] = "Can't duplicate file descriptor",
		[16] = "Can't access file",
		[17] = "Can't create temporary file",
		[18] = "Can't create temporary directory",
		[19] = "Can't map file into memory",
		[20] = "Can't allocate memory",
		[21] = "Exceeded time limit",
		[22] = "Unknown error code",
		[23] = "Exceeded max recursion depth",
		[24] = "Exceeded max scan size",
		[25] = "Exceeded max scan files",
		[26] = "Bad format or broken data",
		[27] = "Can't parse data",
		[28] = "Error during bytecode execution",
		[29] = "Failure in bytecode testmode",
		[30] = "Mutex lock failed",
		[31] = "Scanner still active",
		[32] = "Bad state (engine not initialized, or already initialized)",
		[33] = "The scanned object was verified and deemed trusted",
		[34] = "Unspecified error",
	};

	if (code >= 0 && (size_t)code < sizeof(text) / sizeof(text[0]) && text[code] != NULL)
		return text[code];
	if (code == IPC_CODE_ENGINE_FAILED)
		return "the engine failed during the scan (not fully scanned)";
	if (code == IPC_GEN_OUT_OF_MEMORY)
		return "Can't allocate memory";
	if (code == IPC_DEC_TEMPFILE_ACCESS_FAILED)
		return "the engine ran out of temp space (not fully scanned)";
	if (code == IPC_DEC_FILE_ACCESS_FAILED)
		return "the engine ran out of descriptors (not fully scanned)";
	return "Unknown error code";
}

/* Printable ASCII without spaces: what a virus name may hold. */
int ipc_printable_name(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

void ipc_text_clean(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
		s[--n] = '\0';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
			s[i] = '?';
	}
}
