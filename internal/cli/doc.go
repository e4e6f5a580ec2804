// Package cli is the command-line frame shared by sole, sole-package and
// every program built on runtime.Main: one command table, one help and
// usage format, one usage-error path and one table of exit codes. It is
// built on the standard library's flag package only, so that it costs
// `sole run` nothing at start-up.
package cli
