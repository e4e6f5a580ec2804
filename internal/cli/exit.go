package cli

// The exit codes of every sole program: sole, sole-package and each
// program built on runtime.Main. docs/cli.md lists them; this is the one
// place they are defined.
const (
	ExitOK       = 0
	ExitFailure  = 1   // any other failure
	ExitUsage    = 64  // EX_USAGE: bad command line or configuration
	ExitCantLock = 73  // EX_CANTCREAT: the lock file was refused or cannot be opened
	ExitTempFail = 75  // EX_TEMPFAIL: already running (or the wait timed out)
	ExitTimeout  = 124 // --max-time ran out, as timeout(1)
	ExitCantExec = 126 // the command exists but cannot be run
	ExitNotFound = 127 // the command was not found
	ExitSignal   = 128 // plus the number of the signal that ended the command

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
