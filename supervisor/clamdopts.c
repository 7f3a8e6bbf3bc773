/*
 * supervisor/clamdopts.c: every option clamd 1.4 accepts in clamd.conf (as
 * clamconf(1) lists them, plus the deprecated names clamd still reads and
 * ignores), with its type, clamd's default (clamd.conf(5)) and what avwarden
 * makes of it. Data only; clamdconf.c reads a file against it and
 * fromclamd.c converts.
 *
 * `why` says what avwarden does, so it reads right both when the clamd
 * value matches (the same) and when it does not (left out, and why).
 */
#include "clamdconf.h"

#include <string.h>
#include <strings.h>

/* Carried into avwarden keys by fromclamd.c. */
#define MAP(n, t, f, d) { n, t, f, d, CC_MAPPED, NULL, NULL, NULL, NULL }
/* avwarden always behaves as `a`. */
#define FIX(n, t, d, a, w) { n, t, 0, d, CC_FIXED, a, NULL, NULL, w }
#define FIXN(n, t, d, a, w) { n, t, CC_NOTE_DEFAULT, d, CC_FIXED, a, NULL, NULL, w }
#define FIXW(n, t, d, a, with, w) { n, t, 0, d, CC_FIXED, a, with, NULL, w }
#define FIXC(n, d, c, w) { n, CC_STRING, 0, d, CC_FIXED, d, "Bytecode", c, w }
/* Nothing like it in avwarden. */
#define NONE(n, t, f, w) { n, t, f, NULL, CC_NONE, NULL, NULL, NULL, w }
#define NONEW(n, t, f, with, w) { n, t, f, NULL, CC_NONE, NULL, with, NULL, w }
/* clamd ignores it too. */
#define IGN(n, t, w) { n, t, 0, NULL, CC_IGNORED, NULL, NULL, NULL, w }

#define ALWAYS_PARSES(x) "avwarden always parses " x " (every libclamav parser is on)"
#define NO_ONACCESS "avwarden does no on-access scanning (clamonacc reads this from clamd.conf, not clamd)"
#define LIB_DEFAULT(d) "avwarden has no setting for it and leaves libclamav's default (" d " in libclamav 1.4)"
#define NO_DLP "avwarden does no structured-data (credit card, SSN) detection"
#define NO_PUA "avwarden does not load the PUA (potentially unwanted application) signatures"
#define DEPRECATED "deprecated: clamd 1.4 ignores it too"
#define DEV "a libclamav developer option; avwarden does not set it"
#define NO_LINKS "avwarden's directory scans do not follow symbolic links"
#define NO_PRELUDE "avwarden does not report to Prelude"
#define NO_PARTITIONS "avwarden does not flag disk images with overlapping partitions"
#define NO_STREAM "clamd 1.4 has no STREAM command any more (INSTREAM replaced it): nothing uses it"

static const struct sup_cc_opt opts[] = {
	/* Sockets */
	MAP("LocalSocket", CC_STRING, 0, NULL),
	MAP("LocalSocketGroup", CC_STRING, 0, NULL),
	MAP("LocalSocketMode", CC_STRING, 0, NULL),
	FIX("FixStaleSocket", CC_BOOL, "yes", "yes",
	    "avwarden always removes a stale socket (never one a running daemon answers on)"),
	MAP("TCPSocket", CC_NUMBER, 0, NULL),
	MAP("TCPAddr", CC_STRING, CC_MULTI, NULL),
	FIX("MaxConnectionQueueLength", CC_NUMBER, "200", "128",
	    "avwarden's listen backlog is 128 connections (max_connections caps those open at once)"),
	IGN("StreamMinPort", CC_NUMBER, NO_STREAM),
	IGN("StreamMaxPort", CC_NUMBER, NO_STREAM),
	/* Load and time */
	MAP("MaxThreads", CC_NUMBER, 0, "10"),
	MAP("MaxQueue", CC_NUMBER, 0, "100"),
	MAP("ReadTimeout", CC_NUMBER, 0, "120"),
	MAP("CommandReadTimeout", CC_NUMBER, 0, "30"),
	MAP("SendBufTimeout", CC_NUMBER, 0, "500"),
	MAP("StreamMaxLength", CC_SIZE, 0, "100M"),
	NONE("IdleTimeout", CC_NUMBER, 0, "avwarden has no idle threads to time out: spare_workers wait ready for work"),
	/* Engine limits */
	MAP("MaxScanTime", CC_NUMBER, 0, "120000"),
	MAP("MaxScanSize", CC_SIZE, 0, "400M"),
	MAP("MaxFileSize", CC_SIZE, 0, "100M"),
	MAP("MaxRecursion", CC_NUMBER, 0, "17"),
	MAP("MaxFiles", CC_NUMBER, 0, "10000"),
	NONE("MaxEmbeddedPE", CC_SIZE, 0, LIB_DEFAULT("40M")),
	NONE("MaxHTMLNormalize", CC_SIZE, 0, LIB_DEFAULT("40M")),
	NONE("MaxHTMLNoTags", CC_SIZE, 0, LIB_DEFAULT("8M")),
	NONE("MaxScriptNormalize", CC_SIZE, 0, LIB_DEFAULT("20M")),
	NONE("MaxZipTypeRcg", CC_SIZE, 0, LIB_DEFAULT("1M")),
	NONE("MaxPartitions", CC_NUMBER, 0, LIB_DEFAULT("50")),
	NONE("MaxIconsPE", CC_NUMBER, 0, LIB_DEFAULT("100")),
	NONE("MaxRecHWP3", CC_NUMBER, 0, LIB_DEFAULT("16")),
	NONE("PCREMatchLimit", CC_NUMBER, 0, LIB_DEFAULT("100000")),
	NONE("PCRERecMatchLimit", CC_NUMBER, 0, LIB_DEFAULT("2000")),
	NONE("PCREMaxFileSize", CC_SIZE, 0, LIB_DEFAULT("100M")),
	/* Database */
	MAP("DatabaseDirectory", CC_STRING, 0, "/var/lib/clamav"),
	FIX("OfficialDatabaseOnly", CC_BOOL, "no", "no", "avwarden loads every signature file in its database directory"),
	NONE("FailIfCvdOlderThan", CC_NUMBER, 0,
	    "avwarden starts with a database of any age (avwardenctl version shows its dates)"),
	MAP("SelfCheck", CC_NUMBER, 0, "600"),
	FIX("ConcurrentDatabaseReload", CC_BOOL, "yes", "yes",
	    "avwarden always loads a new database beside the serving one and switches once it is ready"),
	FIX("Bytecode", CC_BOOL, "yes", "yes", "avwarden always loads bytecode signatures"),
	FIXC("BytecodeSecurity", "TrustSigned", "TrustSigned|Paranoid", "avwarden uses libclamav's default, TrustSigned"),
	NONEW("BytecodeTimeout", CC_NUMBER, 0, "Bytecode", LIB_DEFAULT("60000 ms")),
	FIXW("BytecodeUnsigned", CC_BOOL, "no", "no", "Bytecode",
	    "avwarden loads bytecode only from signed .cvd and .cld files"),
	FIXC("BytecodeMode", "Auto", "Auto|ForceJIT|ForceInterpreter|Test", "avwarden uses libclamav's default, Auto"),
	/* The daemon */
	MAP("User", CC_STRING, 0, NULL),
	FIX("Foreground", CC_BOOL, "no", "yes",
	    "avwarden always runs in the foreground, under systemd (Type=notify) or the MTA; "
	    "an init script that waits for clamd to fork needs changing"),
	NONE("PidFile", CC_STRING, 0, "avwarden writes no pid file: systemd or the MTA runs it in the foreground"),
	NONE("TemporaryDirectory", CC_STRING, 0,
	    "avwarden's scanners unpack into a private tmpfs of their own (scanner_tmp_size)"),
	FIX("LeaveTemporaryFiles", CC_BOOL, "no", "no",
	    "avwarden's scanner temp space is a private tmpfs that goes with them"),
	FIX("Debug", CC_BOOL, "no", "no", "avwarden does not turn on libclamav's debug output"),
	FIX("GenerateMetadataJson", CC_BOOL, "no", "no", "avwarden records no scan metadata"),
	FIX("ExitOnOOM", CC_BOOL, "no", "no",
	    "avwarden never stops when a scanner runs out of memory: that request gets an ERROR and "
	    "a new worker takes over"),
	FIX("AllowAllMatchScan", CC_BOOL, "yes", "yes", "avwarden always serves ALLMATCHSCAN"),
	MAP("DisableCache", CC_BOOL, 0, "no"),
	NONE("CacheSize", CC_NUMBER, 0,
	    "it sizes libclamav's cache of clean files, which avwarden turns off (a worker scans one message); "
	    "avwarden's own verdict cache is cache_size, in messages"),
	NONE("VirusEvent", CC_STRING, 0,
	    "avwarden runs no command on a detection; each is logged (scan ... verdict=INFECTED virus=NAME)"),
	/* Path scans */
	NONE("ExcludePath", CC_STRING, CC_MULTI,
	    "avwarden scans every file a SCAN names, with the client's own permissions"),
	FIX("MaxDirectoryRecursion", CC_NUMBER, "15", "15", "avwarden's directory scans go 15 levels deep"),
	FIX("FollowDirectorySymlinks", CC_BOOL, "no", "no", NO_LINKS),
	FIX("FollowFileSymlinks", CC_BOOL, "no", "no", NO_LINKS),
	FIX("CrossFilesystems", CC_BOOL, "yes", "yes", "avwarden's directory scans cross file systems"),
	/* Logging */
	MAP("LogFile", CC_STRING, 0, NULL),
	MAP("LogSyslog", CC_BOOL, 0, "no"),
	MAP("LogFacility", CC_STRING, 0, "LOG_LOCAL6"),
	FIX("LogTime", CC_BOOL, "no", "yes", "avwarden timestamps every log line"),
	FIX("LogClean", CC_BOOL, "no", "yes", "avwarden logs every scan, clean ones too (scan ... verdict=CLEAN)"),
	FIX("LogVerbose", CC_BOOL, "no", "no", "avwarden logs one fixed set of events"),
	FIXW("LogFileUnlock", CC_BOOL, "no", "yes", "LogFile", "avwarden does not lock its log file"),
	FIXW("LogFileMaxSize", CC_SIZE, "1M", "0", "LogFile",
	    "avwarden does not limit its log's size: logrotate rotates it"),
	FIXW("LogRotate", CC_BOOL, "no", "no", "LogFile",
	    "avwarden does not rotate its log itself: logrotate does, then avwardenctl reopen-logs (or SIGHUP)"),
	FIX("ExtendedDetectionInfo", CC_BOOL, "no", "no",
	    "avwarden logs each detection with the message's size and scan time, not its hash"),
	FIX("PreludeEnable", CC_BOOL, "no", "no", NO_PRELUDE),
	NONEW("PreludeAnalyzerName", CC_STRING, 0, "PreludeEnable", NO_PRELUDE),
	/* What a scan looks for */
	FIXN("AlertExceedsMax", CC_BOOL, "no", "yes",
	    "avwarden always reports content past a limit as Heuristics.Limits.Exceeded.* FOUND, so the MTA "
	    "refuses it instead of passing it unscanned"),
	FIX("BlockMax", CC_BOOL, "no", "yes",
	    "(the old name of AlertExceedsMax) avwarden always reports content past a limit as "
	    "Heuristics.Limits.Exceeded.* FOUND, so the MTA refuses it instead of passing it unscanned"),
	FIXN("AlertEncrypted", CC_BOOL, "no", "yes",
	    "avwarden always reports encrypted archives and documents as Heuristics.Encrypted.* FOUND, "
	    "so the MTA refuses what it cannot look into"),
	FIX("AlertEncryptedArchive", CC_BOOL, "no", "yes",
	    "avwarden always reports encrypted archives as Heuristics.Encrypted.* FOUND, so the MTA refuses them"),
	FIX("AlertEncryptedDoc", CC_BOOL, "no", "yes",
	    "avwarden always reports encrypted documents as Heuristics.Encrypted.* FOUND, so the MTA refuses them"),
	FIX("ArchiveBlockEncrypted", CC_BOOL, "no", "yes",
	    "(the old name of AlertEncryptedArchive) avwarden always reports encrypted archives as "
	    "Heuristics.Encrypted.* FOUND, so the MTA refuses them"),
	FIX("AlertBrokenExecutables", CC_BOOL, "no", "no", "avwarden does not flag broken executables"),
	FIX("AlertBrokenMedia", CC_BOOL, "no", "no", "avwarden does not flag broken image files"),
	FIX("AlertOLE2Macros", CC_BOOL, "no", "no", "avwarden does not flag Office files for holding VBA macros"),
	FIX("OLE2BlockMacros", CC_BOOL, "no", "no",
	    "(the old name of AlertOLE2Macros) avwarden does not flag Office files for holding VBA macros"),
	FIX("AlertPhishingSSLMismatch", CC_BOOL, "no", "no", "avwarden does not flag SSL mismatches in URLs"),
	FIX("PhishingAlwaysBlockSSLMismatch", CC_BOOL, "no", "no",
	    "(the old name of AlertPhishingSSLMismatch) avwarden does not flag SSL mismatches in URLs"),
	FIX("AlertPhishingCloak", CC_BOOL, "no", "no", "avwarden does not flag cloaked URLs"),
	FIX("PhishingAlwaysBlockCloak", CC_BOOL, "no", "no",
	    "(the old name of AlertPhishingCloak) avwarden does not flag cloaked URLs"),
	FIX("AlertPartitionIntersection", CC_BOOL, "no", "no", NO_PARTITIONS),
	FIX("PartitionIntersection", CC_BOOL, "no", "no",
	    "(the old name of AlertPartitionIntersection) " NO_PARTITIONS),
	FIX("HeuristicAlerts", CC_BOOL, "yes", "yes", "avwarden always runs libclamav's heuristic detections"),
	FIX("AlgorithmicDetection", CC_BOOL, "yes", "yes",
	    "(the old name of HeuristicAlerts) avwarden always runs libclamav's heuristic detections"),
	FIX("HeuristicScanPrecedence", CC_BOOL, "no", "no",
	    "avwarden reports a heuristic match at the end of the scan, so a signature match found later wins"),
	FIX("PhishingSignatures", CC_BOOL, "yes", "yes", "avwarden always loads the phishing signatures"),
	FIX("PhishingScanURLs", CC_BOOL, "yes", "yes", "avwarden always checks URLs against the phishing signatures"),
	FIX("DetectPUA", CC_BOOL, "no", "no", NO_PUA),
	NONEW("ExcludePUA", CC_STRING, CC_MULTI, "DetectPUA", NO_PUA),
	NONEW("IncludePUA", CC_STRING, CC_MULTI, "DetectPUA", NO_PUA),
	FIX("StructuredDataDetection", CC_BOOL, "no", "no", NO_DLP),
	NONEW("StructuredMinCreditCardCount", CC_NUMBER, 0, "StructuredDataDetection", NO_DLP),
	NONEW("StructuredMinSSNCount", CC_NUMBER, 0, "StructuredDataDetection", NO_DLP),
	NONEW("StructuredSSNFormatNormal", CC_BOOL, 0, "StructuredDataDetection", NO_DLP),
	NONEW("StructuredSSNFormatStripped", CC_BOOL, 0, "StructuredDataDetection", NO_DLP),
	NONEW("StructuredCCOnly", CC_BOOL, 0, "StructuredDataDetection", NO_DLP),
	FIX("ScanPE", CC_BOOL, "yes", "yes", ALWAYS_PARSES("Windows executables")),
	FIX("ScanELF", CC_BOOL, "yes", "yes", ALWAYS_PARSES("ELF executables")),
	FIX("ScanMail", CC_BOOL, "yes", "yes", ALWAYS_PARSES("mail and its attachments")),
	FIX("ScanPartialMessages", CC_BOOL, "no", "no",
	    "avwarden does not reassemble mail split into message/partial parts"),
	FIX("ScanHTML", CC_BOOL, "yes", "yes", ALWAYS_PARSES("HTML and scripts")),
	FIX("ScanOLE2", CC_BOOL, "yes", "yes", ALWAYS_PARSES("OLE2 (Office) files")),
	FIX("ScanPDF", CC_BOOL, "yes", "yes", ALWAYS_PARSES("PDF files")),
	FIX("ScanSWF", CC_BOOL, "yes", "yes", ALWAYS_PARSES("SWF files")),
	FIX("ScanXMLDOCS", CC_BOOL, "yes", "yes", ALWAYS_PARSES("XML documents")),
	FIX("ScanHWP3", CC_BOOL, "yes", "yes", ALWAYS_PARSES("HWP3 files")),
	FIX("ScanOneNote", CC_BOOL, "yes", "yes", ALWAYS_PARSES("OneNote files")),
	FIX("ScanArchive", CC_BOOL, "yes", "yes", ALWAYS_PARSES("archives")),
	FIX("ScanImage", CC_BOOL, "yes", "yes", ALWAYS_PARSES("images")),
	FIX("ScanImageFuzzyHash", CC_BOOL, "yes", "yes", "avwarden always matches images by their fuzzy hash"),
	FIX("ForceToDisk", CC_BOOL, "no", "no", "avwarden's scanners work in memory and their private tmpfs"),
	FIX("DisableCertCheck", CC_BOOL, "no", "no", "avwarden leaves libclamav's authenticode certificate checks on"),
	/* On-access scanning: clamonacc's */
	NONE("OnAccessMountPath", CC_STRING, CC_MULTI, NO_ONACCESS),
	NONE("OnAccessIncludePath", CC_STRING, CC_MULTI, NO_ONACCESS),
	NONE("OnAccessExcludePath", CC_STRING, CC_MULTI, NO_ONACCESS),
	NONE("OnAccessExcludeRootUID", CC_BOOL, 0, NO_ONACCESS),
	NONE("OnAccessExcludeUID", CC_NUMBER, CC_MULTI, NO_ONACCESS),
	NONE("OnAccessExcludeUname", CC_STRING, CC_MULTI, NO_ONACCESS),
	NONE("OnAccessMaxFileSize", CC_SIZE, 0, NO_ONACCESS),
	NONE("OnAccessDisableDDD", CC_BOOL, 0, NO_ONACCESS),
	NONE("OnAccessPrevention", CC_BOOL, 0, NO_ONACCESS),
	NONE("OnAccessExtraScanning", CC_BOOL, 0, NO_ONACCESS),
	NONE("OnAccessCurlTimeout", CC_NUMBER, 0, NO_ONACCESS),
	NONE("OnAccessMaxThreads", CC_NUMBER, 0, NO_ONACCESS),
	NONE("OnAccessRetryAttempts", CC_NUMBER, 0, NO_ONACCESS),
	NONE("OnAccessDenyOnError", CC_BOOL, 0, NO_ONACCESS),
	/* Developers' */
	FIX("DevACOnly", CC_BOOL, "no", "no", DEV),
	NONE("DevACDepth", CC_NUMBER, 0, DEV),
	FIX("DevPerformance", CC_BOOL, "no", "no", DEV),
	FIX("DevLiblog", CC_BOOL, "no", "no", DEV),
	/* Deprecated: clamd reads them and ignores them, with a warning. */
	IGN("DetectBrokenExecutables", CC_BOOL, DEPRECATED " (AlertBrokenExecutables replaced it)"),
	IGN("MailMaxRecursion", CC_NUMBER, DEPRECATED),
	IGN("ArchiveMaxScanSize", CC_SIZE, DEPRECATED " (MaxScanSize replaced it)"),
	IGN("ArchiveMaxRecursion", CC_NUMBER, DEPRECATED " (MaxRecursion replaced it)"),
	IGN("ArchiveMaxFiles", CC_NUMBER, DEPRECATED " (MaxFiles replaced it)"),
	IGN("ArchiveMaxCompressionRatio", CC_NUMBER, DEPRECATED),
	IGN("ArchiveBlockMax", CC_BOOL, DEPRECATED),
	IGN("ArchiveLimitMemoryUsage", CC_BOOL, DEPRECATED),
	IGN("MailFollowURLs", CC_BOOL, DEPRECATED),
	IGN("AllowSupplementaryGroups", CC_BOOL, DEPRECATED),
	IGN("ScanOnAccess", CC_BOOL, DEPRECATED " (clamonacc replaced it)"),
};

const struct sup_cc_opt *sup_cc_opts(size_t *n)
{
	*n = sizeof(opts) / sizeof(opts[0]);
	return opts;
}

/* clamd's names are case sensitive; nocase is for naming a near miss. */
const struct sup_cc_opt *sup_cc_find(const char *name, int nocase)
{
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if ((nocase ? strcasecmp(opts[i].name, name) : strcmp(opts[i].name, name)) == 0)
			return &opts[i];
	return NULL;
}
