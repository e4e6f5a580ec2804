package cli

// The exit codes of every sole program: sole, sole-package and each
// program built on runtime.Main. docs/cli.md lists them; this is the one
// place they are defined.
const (
	ExitOK          = 0
	ExitFailure     = 1   // any other failure
	ExitUsage       = 64  // EX_USAGE: bad command line or configuration
	ExitUnavailable = 69  // EX_UNAVAILABLE: the fleet's etcd cannot be reached
	ExitCantLock    = 73  // EX_CANTCREAT: the lock file was refused or cannot be opened
	ExitTempFail    = 75  // EX_TEMPFAIL: already running (or the wait timed out)
	ExitLockLost    = 76  // the fleet lock was lost: COMMAND (or the app) was stopped before its lease could expire
	ExitTimeout     = 124 // --max-time ran out, as timeout(1)
	ExitCantExec    = 126 // the command exists but cannot be run
	ExitNotFound    = 127 // the command was not found
	ExitSignal      = 128 // plus the number of the signal that ended the command

	// ExitAlreadyRunning is what a second instance exits with; service
	// definitions name it in RestartPreventExitStatus=.
	ExitAlreadyRunning = ExitTempFail
)

// The LSB init-script status codes, which every status command (sole
// status, sole list, PROG status) exits with.
const (
	StatusRunning    = 0 // an instance holds the lock
	StatusDeadRecord = 1 // not running, but a record is left (its holder died)
	StatusNotRunning = 3 // not running
	StatusUnknown    = 4 // the status could not be determined
)

// ExitNotInstalled is what uninstall, start, stop and restart exit with
// for a service that is not installed (LSB "program is not installed").
const ExitNotInstalled = 5

// An ExitCode is one row of the exit-code tables: the man page's EXIT
// STATUS section is written from them, and the tests check docs/cli.md
// against them.
type ExitCode struct {
	Code    int
	Name    string // the constant's name: "ExitUsage"
	Meaning string
}

// ExitCodes are the exit codes of every sole program, in order (the
// constants above; ExitAlreadyRunning is ExitTempFail). ExitSignal stands
// for 128+N.
var ExitCodes = []ExitCode{
	{ExitOK, "ExitOK", "success"},
	{ExitFailure, "ExitFailure", "any other failure"},
	{ExitUsage, "ExitUsage", "bad command line or configuration (EX_USAGE)"},
	{ExitUnavailable, "ExitUnavailable", "the fleet's etcd cannot be reached (EX_UNAVAILABLE)"},
	{ExitCantLock, "ExitCantLock", "the lock file was refused or cannot be opened (EX_CANTCREAT)"},
	{ExitTempFail, "ExitTempFail", "already running, or the wait timed out (EX_TEMPFAIL)"},
	{ExitLockLost, "ExitLockLost", "the fleet lock was lost: COMMAND (or the app) was stopped before its lease could expire"},
	{ExitTimeout, "ExitTimeout", "--max-time ran out, as timeout(1)"},
	{ExitCantExec, "ExitCantExec", "the command exists but cannot be run"},
	{ExitNotFound, "ExitNotFound", "the command was not found"},
	{ExitSignal, "ExitSignal", "128+N: the command was ended by signal N"},
	{ExitNotInstalled, "ExitNotInstalled", "no such service is installed (LSB)"},
}

// StatusCodes are the LSB status codes of the status commands, in order.
var StatusCodes = []ExitCode{
	{StatusRunning, "StatusRunning", "running: an instance holds the lock"},
	{StatusDeadRecord, "StatusDeadRecord", "not running, but a record is left (its holder died)"},
	{StatusNotRunning, "StatusNotRunning", "not running"},
	{StatusUnknown, "StatusUnknown", "the status could not be determined"},
}
